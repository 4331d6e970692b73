import type { Db } from '../../platform/db.ts';
import * as ledgerRepo from './loyalty.ledger.repo.ts';

/**
 * Group commit of till changes. Requests that arrive while calls are in flight wait and then go together: their
 * state reads as one `loyalty_member_states` call, their changes as one `loyalty_apply_many` call (written as sets;
 * a stale version or a reused key fails that change alone, and any other refusal sends the group one change at a
 * time, each in its own subtransaction — migration 202612030000). Round trips, statement
 * overheads and process wake-ups are paid once per group instead of once per till transaction; an idle server
 * sends a lone request at once, so latency only grows with load. Nothing waits across processes: each process
 * groups its own requests.
 */
export class Batcher<I, O> {
  private readonly queue: { item: I; done: (result: O | Error) => void }[] = [];
  private inFlight = 0;
  private readonly run: (items: I[]) => Promise<O[]>;
  private readonly lanes: number;
  private readonly max: number;

  constructor(run: (items: I[]) => Promise<O[]>, lanes = 2, max = 64) {
    this.run = run;
    this.lanes = lanes;
    this.max = max;
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, done: (r) => (r instanceof Error ? reject(r) : resolve(r)) });
      this.pump();
    });
  }

  private pump() {
    while (this.inFlight < this.lanes && this.queue.length > 0) {
      const group = this.queue.splice(0, this.max);
      this.inFlight++;
      void this.run(group.map((g) => g.item))
        .then(
          (results) => {
            group.forEach((g, i) => {
              const r = results[i];
              g.done(r === undefined ? new Error('loyalty: a grouped call returned too few results') : r);
            });
          },
          (error: unknown) => {
            for (const g of group) g.done(error instanceof Error ? error : new Error(String(error)));
          },
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}

/** An error shaped as the database's own, so that callers handle a grouped change as a single one. */
export class GroupedChangeError extends Error {
  readonly code: string;
  readonly constraint: string | undefined;
  constructor(outcome: ledgerRepo.ApplyOutcome) {
    super(outcome.message ?? 'loyalty change refused');
    this.code = outcome.code ?? 'XX000';
    this.constraint = outcome.constraint ?? undefined;
  }
}

export interface TillBatches {
  read(item: ledgerRepo.StateItem): Promise<ledgerRepo.MemberState | undefined>;
  apply(item: ledgerRepo.ApplyItem): Promise<void>;
}

/**
 * One group in flight per stage (reads, writes). The two stages still overlap each other, and a request waiting for
 * the lane joins a larger group: with set-wise writes a larger group costs less per change. Same minutes,
 * bench/loyalty at 32 connections: one lane 1,446–1,950/s at 1.13–1.25× the bare baseline's CPU per transaction,
 * two lanes 1,333–1,570/s at 1.37–1.45× (bench/RESULTS.md, session 7).
 */
const TILL_LANES = 1;

export function tillBatches(db: Db): TillBatches {
  const reads = new Batcher<ledgerRepo.StateItem, ledgerRepo.MemberState | null>(
    async (items) => (await ledgerRepo.readStates(db, items)).map((s) => s ?? null),
    TILL_LANES,
  );
  const applies = new Batcher<ledgerRepo.ApplyItem, ledgerRepo.ApplyOutcome>(async (items) => {
    // In member order, so that two groups lock the members they share in the same order.
    const order = items.map((item, i) => ({ item, i })).sort((a, b) => (a.item.member < b.item.member ? -1 : 1));
    const outcomes = await ledgerRepo.applyMany(
      db,
      order.map((o) => o.item),
    );
    const byInput = new Array<ledgerRepo.ApplyOutcome>(items.length);
    order.forEach((o, k) => {
      byInput[o.i] = outcomes[k] as ledgerRepo.ApplyOutcome;
    });
    return byInput;
  }, TILL_LANES);
  return {
    async read(item) {
      return (await reads.submit(item)) ?? undefined;
    },
    async apply(item) {
      const outcome = await applies.submit(item);
      if (!outcome.ok) throw new GroupedChangeError(outcome);
    },
  };
}
