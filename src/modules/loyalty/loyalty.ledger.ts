import { DomainError } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import type { Apply, Changes, EntryInsert, EntryRow, MemberState, OpenLot } from './loyalty.ledger.repo.ts';
import type { Balance, LedgerKind, WalletSettings } from './loyalty.schemas.ts';

/**
 * The ledger's arithmetic, in memory, over a locked member: what each operation appends and how it moves lots and
 * balances. Nothing here touches the database; the caller writes the resulting Changes in one statement.
 *
 * - An earning (or a positive adjustment) appends an entry and opens a lot of the same id: pending until
 *   `availableAt` (the return window), void after `expiresAt`.
 * - Spending takes from available lots first-in first-out (oldest earning first) and records which lots it took.
 * - A claw-back (return, reversal) takes from the earning's own lot first, then FIFO; what cannot be taken because
 *   it was spent already is reported, never taken into the negative.
 * - Giving spent points back (a refunded points payment) returns them to the lots they came from, except lots
 *   that have expired meanwhile.
 */
export class LedgerDraft {
  readonly member: MemberState;
  readonly changes: Changes;
  readonly now: Date;
  readonly recordedBy: string | null;
  /** Open lots and lots touched in this draft, by id, with their remaining as of the draft. */
  private readonly lots = new Map<string, OpenLot>();
  private readonly balances: Map<string, number>;

  constructor(member: MemberState, changes: Changes, now: Date, recordedBy: string | null) {
    this.member = member;
    this.changes = changes;
    this.now = now;
    this.recordedBy = recordedBy;
    for (const lot of member.lots) this.lots.set(lot.id, { ...lot });
    this.balances = new Map(member.wallets);
  }

  /** Makes lots known that are not open (spent to zero) so that points can be given back to them. */
  knowLots(lots: OpenLot[]) {
    for (const lot of lots) if (!this.lots.has(lot.id)) this.lots.set(lot.id, { ...lot });
  }

  private move(wallet: string, lotId: string | null, delta: number) {
    const key = `${this.member.memberId}\u0001${wallet}`;
    this.changes.walletDeltas.set(key, (this.changes.walletDeltas.get(key) ?? 0) + delta);
    this.balances.set(wallet, (this.balances.get(wallet) ?? 0) + delta);
    if (lotId) {
      const lot = this.lots.get(lotId);
      if (lot) lot.remaining += delta;
      this.changes.lotDeltas.set(lotId, (this.changes.lotDeltas.get(lotId) ?? 0) + delta);
    }
  }

  private entry(e: Omit<EntryInsert, 'id' | 'memberId' | 'occurredAt' | 'recordedBy'> & { id?: string }) {
    const full: EntryInsert = {
      id: e.id ?? newId(),
      memberId: this.member.memberId,
      occurredAt: this.now,
      recordedBy: this.recordedBy,
      ...e,
    };
    this.changes.entries.push(full);
    return full;
  }

  private spendable(lot: OpenLot) {
    return lot.remaining > 0 && lot.availableAt <= this.now && (!lot.expiresAt || lot.expiresAt > this.now);
  }

  /** Points that can be spent now in a wallet. */
  available(wallet: string): number {
    let n = 0;
    for (const lot of this.lots.values()) if (lot.wallet === wallet && this.spendable(lot)) n += lot.remaining;
    return n;
  }

  /** Credits points in a new lot: an earning, or a positive adjustment. */
  credit(input: {
    kind: 'earn' | 'adjust';
    wallet: WalletSettings;
    points: number;
    transactionId: string | null;
    ruleId: string | null;
    reason: string | null;
    /** Start of the return window (the purchase's time); adjustments are available at once. */
    from: Date;
    /** Whether the wallet's return window applies (purchases); event earnings are available at once. */
    pending: boolean;
  }) {
    const availableAt =
      input.kind === 'earn' && input.pending
        ? new Date(input.from.getTime() + input.wallet.pendingDays * 86_400_000)
        : this.now;
    const expiresAt =
      input.wallet.lifetimeDays === null
        ? null
        : new Date(availableAt.getTime() + input.wallet.lifetimeDays * 86_400_000);
    const e = this.entry({
      wallet: input.wallet.key,
      kind: input.kind,
      amount: input.points,
      transactionId: input.transactionId,
      ruleId: input.ruleId,
      reverses: null,
      lots: null,
      reason: input.reason,
    });
    const lot: OpenLot = {
      id: e.id,
      wallet: input.wallet.key,
      amount: input.points,
      remaining: 0,
      earnedAt: this.now,
      availableAt,
      expiresAt,
    };
    this.lots.set(lot.id, lot);
    this.changes.lots.push({
      id: lot.id,
      memberId: this.member.memberId,
      wallet: lot.wallet,
      amount: lot.amount,
      earnedAt: lot.earnedAt,
      availableAt,
      expiresAt,
    });
    // The new lot's remaining starts at its amount in the insert; only the in-memory view and the wallet move here.
    lot.remaining = input.points;
    const key = `${this.member.memberId}\u0001${lot.wallet}`;
    this.changes.walletDeltas.set(key, (this.changes.walletDeltas.get(key) ?? 0) + input.points);
    this.balances.set(lot.wallet, (this.balances.get(lot.wallet) ?? 0) + input.points);
    return e;
  }

  /** Takes up to `points` from spendable lots FIFO (after `first`, if given and open). */
  private take(wallet: string, points: number, first?: string, includeUnavailable = false): [string, number][] {
    const taken: [string, number][] = [];
    let left = points;
    const order = [...this.lots.values()]
      .filter((l) => l.wallet === wallet)
      .sort((a, b) => a.earnedAt.getTime() - b.earnedAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const firstLot = first ? this.lots.get(first) : undefined;
    const candidates = firstLot ? [firstLot, ...order.filter((l) => l.id !== first)] : order;
    for (const lot of candidates) {
      if (left === 0) break;
      const own = lot === firstLot && includeUnavailable;
      if (!(own ? lot.remaining > 0 : this.spendable(lot))) continue;
      const n = Math.min(left, lot.remaining);
      taken.push([lot.id, -n]);
      this.move(wallet, lot.id, -n);
      left -= n;
    }
    return taken;
  }

  /** Spends points (a payment with points, a negative adjustment): all or nothing. */
  debit(input: {
    kind: 'burn' | 'adjust';
    wallet: string;
    points: number;
    transactionId: string | null;
    reason: string | null;
  }) {
    const available = this.available(input.wallet);
    if (available < input.points) {
      throw new DomainError(
        'conflict',
        'INSUFFICIENT_POINTS',
        `Only ${available} points can be spent now (the rest is pending, expired or not there).`,
        { available },
      );
    }
    const lots = this.take(input.wallet, input.points);
    return this.entry({
      wallet: input.wallet,
      kind: input.kind,
      amount: -input.points,
      transactionId: input.transactionId,
      ruleId: null,
      reverses: null,
      lots,
      reason: input.reason,
    });
  }

  /**
   * Takes back up to `points` of an earning (a return, a reversal): from its own lot first — pending or not — then
   * from other spendable lots FIFO. Returns what it took and what it could not.
   */
  clawBack(earning: Pick<EntryRow, 'id' | 'wallet'>, points: number, transactionId: string, reason: string | null) {
    if (points <= 0) return { taken: 0, short: 0 };
    const lots = this.take(earning.wallet, points, earning.id, true);
    const taken = -lots.reduce((s, [, n]) => s + n, 0);
    if (taken > 0)
      this.entry({
        wallet: earning.wallet,
        kind: 'reverse',
        amount: -taken,
        transactionId,
        ruleId: null,
        reverses: earning.id,
        lots,
        reason,
      });
    return { taken, short: points - taken };
  }

  /**
   * Gives back the slice [from, to) of a spending's points (a refund of a points payment; cumulative shares of
   * successive returns give disjoint slices) to the lots they came from, in the order they were taken. Points of a
   * lot that has expired meanwhile are not given back: they would have expired unspent. Returns both amounts.
   */
  giveBack(
    spending: Pick<EntryRow, 'id' | 'wallet' | 'lots'>,
    from: number,
    to: number,
    transactionId: string | null,
    reason: string | null,
  ) {
    let expired = 0;
    const lots: [string, number][] = [];
    let position = 0;
    for (const [lotId, took] of spending.lots ?? []) {
      const start = position;
      const end = position - took;
      position = end;
      const n = Math.min(end, to) - Math.max(start, from);
      if (n <= 0) continue;
      const lot = this.lots.get(lotId);
      if (!lot || (lot.expiresAt && lot.expiresAt <= this.now)) {
        expired += n;
        continue;
      }
      lots.push([lotId, n]);
      this.move(spending.wallet, lotId, n);
    }
    const given = lots.reduce((s, [, n]) => s + n, 0);
    if (given > 0)
      this.entry({
        wallet: spending.wallet,
        kind: 'reverse',
        amount: given,
        transactionId,
        ruleId: null,
        reverses: spending.id,
        lots,
        reason,
      });
    return { given, expired };
  }

  /** Writes off the remaining points of lots past their expiry: one entry per wallet. */
  expireDue(): number {
    const byWallet = new Map<string, [string, number][]>();
    for (const lot of this.lots.values()) {
      if (lot.remaining > 0 && lot.expiresAt && lot.expiresAt <= this.now) {
        const list = byWallet.get(lot.wallet) ?? [];
        list.push([lot.id, -lot.remaining]);
        byWallet.set(lot.wallet, list);
      }
    }
    let total = 0;
    for (const [wallet, lots] of byWallet) {
      const sum = lots.reduce((s, [, n]) => s + n, 0);
      for (const [id, n] of lots) this.move(wallet, id, n);
      this.entry({
        wallet,
        kind: 'expire',
        amount: sum,
        transactionId: null,
        ruleId: null,
        reverses: null,
        lots,
        reason: null,
      });
      total -= sum;
    }
    return total;
  }

  /** Balances after the draft, per wallet. */
  balancesAfter(wallets: readonly string[]): Balance[] {
    const names = [...new Set([...wallets, ...this.balances.keys()])];
    return names.map((wallet) => {
      let pending = 0;
      let expired = 0;
      for (const lot of this.lots.values()) {
        if (lot.wallet !== wallet || lot.remaining <= 0) continue;
        if (lot.availableAt > this.now) pending += lot.remaining;
        else if (lot.expiresAt && lot.expiresAt <= this.now) expired += lot.remaining;
      }
      const total = this.balances.get(wallet) ?? 0;
      return { wallet, total, available: total - pending - expired, pending, expired };
    });
  }
}

/** A cumulative share, floored: what a return of `part` of `whole` takes of `points` in all. */
export function shareOf(points: number, part: number, whole: number): number {
  if (whole <= 0) return part > 0 ? points : 0;
  return Math.floor((points * Math.min(part, whole)) / whole);
}

export const CREDIT_KINDS: readonly LedgerKind[] = ['earn', 'adjust'];

/**
 * A planned change as loyalty_apply takes it, on the member version read. As it stands, the change made while an
 * event is heard, in the transaction that stores it (earning on an event, a revoked referral's claw-back): no
 * idempotency key and no proof; a concurrent change of the member raises 40001 and the caller's transaction runs
 * again. A till change adds its stored answer and proof (loyalty.till.ts).
 */
export function heardApply(member: MemberState, changes: Changes): Apply {
  return {
    memberId: member.memberId,
    version: member.version,
    request: null,
    verification: null,
    changes,
    existingWallets: new Set([...member.wallets.keys()].map((w) => `${member.memberId}\u0001${w}`)),
  };
}
