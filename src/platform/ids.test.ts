import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validate, version } from 'uuid';
import { newId } from './ids.ts';

// Row ids are UUIDv7 in creation order: the events' timeline breaks ties on them, and indexes stay append-friendly.
describe('newId', () => {
  it('makes valid, distinct version-7 UUIDs in creation order, carrying the time they were made', () => {
    const before = Date.now();
    const ids = Array.from({ length: 50_000 }, () => newId());
    const after = Date.now();
    for (const id of ids.slice(0, 100)) {
      assert.ok(validate(id), id);
      assert.equal(version(id), 7);
    }
    assert.equal(new Set(ids).size, ids.length);
    for (let i = 1; i < ids.length; i++)
      assert.ok((ids[i - 1] as string) < (ids[i] as string), `${ids[i - 1]} < ${ids[i]}`);
    const msecs = (id: string) => Number.parseInt(id.replace('-', '').slice(0, 12), 16);
    assert.ok(msecs(ids[0] as string) >= before && msecs(ids.at(-1) as string) <= after + 1);
  });
});
