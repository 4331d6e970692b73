import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type Identifier, identifierKey, isPersonLevel } from './profiles.identifiers.ts';
import { canonical, emptyView, type IdentityView, resolve } from './profiles.resolution.ts';

/** Plays events through a fresh view; returns the view and the final owner of each identifier. */
function play(events: Identifier[][]) {
  const view = emptyView();
  let n = 0;
  for (const ids of events) resolve(view, ids, () => `p${String(++n).padStart(4, '0')}`);
  const ownerOf = new Map<string, string>();
  for (const [key, owner] of view.owner) ownerOf.set(key, canonical(view, owner));
  return { view, ownerOf };
}

/** The partition of identifiers into profiles, independent of profile ids. */
function partition(ownerOf: Map<string, string>): string[] {
  const groups = new Map<string, string[]>();
  for (const [key, owner] of ownerOf) groups.set(owner, [...(groups.get(owner) ?? []), key]);
  return [...groups.values()].map((g) => g.sort().join(' | ')).sort();
}

function assertOneValuePerKind(view: IdentityView, ownerOf: Map<string, string>) {
  const seen = new Map<string, Map<string, string>>();
  for (const [key, owner] of ownerOf) {
    const [kind, value] = key.split('\u0001') as [string, string];
    if (!isPersonLevel(kind)) continue;
    const kinds = seen.get(owner) ?? new Map<string, string>();
    const other = kinds.get(kind);
    assert.ok(other === undefined || other === value, `profile ${owner} holds ${kind} ${other} and ${value}`);
    kinds.set(kind, value);
    seen.set(owner, kinds);
  }
  // The view's per-profile kinds agree with the owner map.
  for (const [owner, kinds] of seen) assert.deepEqual(view.kinds.get(owner), kinds);
}

// A population of people. Each holds at most one value per person-level kind and its own devices.
const person = (i: number) =>
  fc.record({
    user: fc.option(fc.constant(`u${i}`), { nil: undefined }),
    email: fc.option(fc.constant(`e${i}@x.test`), { nil: undefined }),
    phone: fc.option(fc.constant(`+7900000${String(i).padStart(4, '0')}`), { nil: undefined }),
    devices: fc.array(fc.constantFrom(`d${i}a`, `d${i}b`), { maxLength: 2 }),
  });

function idsOf(p: { user?: string; email?: string; phone?: string; devices: string[] }): Identifier[] {
  const ids: Identifier[] = [];
  if (p.user) ids.push({ kind: 'user_id', value: p.user });
  if (p.email) ids.push({ kind: 'email', value: p.email });
  if (p.phone) ids.push({ kind: 'phone', value: p.phone });
  for (const d of p.devices) ids.push({ kind: 'anonymous_id', value: d });
  return ids;
}

/** Events of consistent people: each event carries some of one person's identifiers (identify, track or alias). */
const consistentHistory = fc
  .array(fc.nat(5), { minLength: 1, maxLength: 6 })
  .chain((sizes) => fc.tuple(...sizes.map((_, i) => person(i))))
  .chain((people) => {
    const pools = people.map(idsOf).filter((ids) => ids.length > 0);
    if (pools.length === 0) return fc.constant([] as Identifier[][]);
    const event = fc.nat(pools.length - 1).chain((who) => fc.subarray(pools[who] as Identifier[], { minLength: 1 }));
    return fc.array(event, { minLength: 1, maxLength: 25 });
  });

describe('identity resolution', () => {
  it('ends in the same partition whatever the order of the events', () => {
    fc.assert(
      fc.property(
        consistentHistory.chain((events) =>
          fc.tuple(fc.constant(events), fc.shuffledSubarray(events, { minLength: events.length })),
        ),
        ([events, shuffled]) => {
          const a = play(events);
          const b = play(shuffled);
          assert.deepEqual(partition(a.ownerOf), partition(b.ownerOf));
          assertOneValuePerKind(a.view, a.ownerOf);
          assertOneValuePerKind(b.view, b.ownerOf);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('links exactly the identifiers that events tie together', () => {
    fc.assert(
      fc.property(consistentHistory, (events) => {
        // Expected: connected components of "appeared in one event together".
        const parent = new Map<string, string>();
        const find = (k: string): string => {
          const p = parent.get(k) ?? k;
          if (p === k) return k;
          const root = find(p);
          parent.set(k, root);
          return root;
        };
        for (const ids of events) {
          const keys = ids.map(identifierKey);
          for (const k of keys) if (!parent.has(k)) parent.set(k, k);
          for (const k of keys.slice(1)) parent.set(find(k), find(keys[0] as string));
        }
        const expected = new Map<string, string>();
        for (const k of parent.keys()) expected.set(k, find(k));
        assert.deepEqual(partition(play(events).ownerOf), partition(expected));
      }),
      { numRuns: 300 },
    );
  });

  it('never puts two values of one person-level kind on a profile, with shared devices and mistyped e-mails', () => {
    const id = (kind: Identifier['kind'], value: string): Identifier => ({ kind, value });
    const pool = [
      id('user_id', 'u1'),
      id('user_id', 'u2'),
      id('email', 'a@x.test'),
      id('email', 'b@x.test'),
      id('phone', '+79000000001'),
      id('phone', '+79000000002'),
      id('card', '1111'),
      id('anonymous_id', 'shared-device'),
      id('anonymous_id', 'd2'),
    ];
    fc.assert(
      fc.property(
        fc.array(fc.subarray(pool, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 30 }),
        (events) => {
          const { view, ownerOf } = play(events);
          assertOneValuePerKind(view, ownerOf);
          // Every identifier an event carried is owned by some profile, or was refused for a conflict.
          for (const ids of events)
            for (const i of ids) if (!ownerOf.has(identifierKey(i))) assert.ok(isPersonLevel(i.kind));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('keeps two customers apart when they share a device', () => {
    const { ownerOf } = play([
      [
        { kind: 'anonymous_id', value: 'family-tablet' },
        { kind: 'user_id', value: 'anna' },
      ],
      [
        { kind: 'anonymous_id', value: 'family-tablet' },
        { kind: 'user_id', value: 'boris' },
      ],
      [{ kind: 'anonymous_id', value: 'family-tablet' }],
    ]);
    assert.notEqual(ownerOf.get('user_id\u0001anna'), ownerOf.get('user_id\u0001boris'));
  });

  it('merges an anonymous visitor into the customer who signs in, keeping the older profile', () => {
    const view = emptyView();
    const ids = ['p-old', 'p-new'];
    const first = resolve(view, [{ kind: 'anonymous_id', value: 'a1' }], () => ids.shift() as string);
    const signIn = resolve(
      view,
      [
        { kind: 'anonymous_id', value: 'a1' },
        { kind: 'user_id', value: 'u1' },
        { kind: 'email', value: 'u1@x.test' },
      ],
      () => ids.shift() as string,
    );
    assert.equal(first.profileId, 'p-old');
    assert.equal(signIn.profileId, 'p-old', 'the visitor profile with its history becomes the customer');
    assert.equal(signIn.created, false);
    assert.deepEqual(signIn.attached.map((i) => i.kind).sort(), ['email', 'user_id']);
  });

  it('refuses a second e-mail for a known customer instead of fusing two people', () => {
    const view = emptyView();
    let n = 0;
    const next = () => `p${++n}`;
    const anna = resolve(
      view,
      [
        { kind: 'user_id', value: 'anna' },
        { kind: 'email', value: 'anna@x.test' },
      ],
      next,
    );
    const boris = resolve(view, [{ kind: 'email', value: 'boris@x.test' }], next);
    const typo = resolve(
      view,
      [
        { kind: 'user_id', value: 'anna' },
        { kind: 'email', value: 'boris@x.test' },
      ],
      next,
    );
    assert.equal(typo.profileId, anna.profileId);
    assert.deepEqual(typo.absorbed, [], 'boris is not absorbed into anna');
    assert.notEqual(canonical(view, boris.profileId), anna.profileId);
  });
});
