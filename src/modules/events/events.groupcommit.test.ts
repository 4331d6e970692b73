import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NormalizedEvent } from './events.normalize.ts';
import { GroupCommitter } from './events.service.ts';

const events = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({ messageId: `${tag}-${i}` }) as NormalizedEvent);

/** A commit that waits until released, recording what each transaction held. */
function recorder(failOn?: string) {
  const commits: string[][] = [];
  let release: () => void = () => {};
  let gate = new Promise<void>((r) => {
    release = r;
  });
  return {
    commits,
    open() {
      release();
    },
    close() {
      gate = new Promise<void>((r) => {
        release = r;
      });
    },
    async commit(workspaceId: string, list: NormalizedEvent[]) {
      const tags = [...new Set(list.map((e) => `${workspaceId}:${e.messageId.split('-')[0]}`))];
      await gate;
      commits.push(tags);
      if (failOn && tags.includes(failOn)) throw new Error(`poisoned ${failOn}`);
    },
  };
}

describe('group commit', () => {
  it('writes batches that wait behind a busy lane together, per workspace, and answers each after its commit', async () => {
    const r = recorder();
    const committer = new GroupCommitter((w, e) => r.commit(w, e), 1, 1000);
    const first = committer.submit('w1', events(10, 'a'));
    const rest = [
      committer.submit('w1', events(10, 'b')),
      committer.submit('w2', events(10, 'c')),
      committer.submit('w1', events(10, 'd')),
    ];
    r.open();
    await Promise.all([first, ...rest]);
    assert.deepEqual(r.commits, [['w1:a'], ['w1:b', 'w1:d'], ['w2:c']]);
  });

  it('caps a group by event count', async () => {
    const r = recorder();
    const committer = new GroupCommitter((w, e) => r.commit(w, e), 1, 25);
    const all = ['a', 'b', 'c', 'd'].map((t) => committer.submit('w', events(10, t)));
    r.open();
    await Promise.all(all);
    assert.deepEqual(r.commits, [['w:a'], ['w:b', 'w:c'], ['w:d']]);
  });

  it('a failing batch fails alone: the others of its group are committed and answered', async () => {
    const r = recorder('w:b');
    const committer = new GroupCommitter((w, e) => r.commit(w, e), 1, 1000);
    const first = committer.submit('w', events(5, 'a'));
    const poisoned = committer.submit('w', events(5, 'b'));
    const fine = committer.submit('w', events(5, 'c'));
    r.open();
    await first;
    await assert.rejects(poisoned, /poisoned w:b/);
    await fine;
    assert.deepEqual(r.commits, [['w:a'], ['w:b', 'w:c'], ['w:b'], ['w:c']]);
  });
});
