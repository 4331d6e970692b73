import { sql } from 'kysely';
import { z } from 'zod';
import { defineCatalogue, evaluateRule, type RuleNode, ruleSchema } from '../../platform/rules/index.ts';
import { Cap, EventName, Formula, RuleScope, RuleStatus, RuleTrigger, WalletKey } from './loyalty.schemas.ts';

/**
 * Earn rules are data: a condition over the fields below (the shared rule tree of platform/rules), a formula, caps
 * per person and period, a date range, a priority. This file holds the catalogue and the evaluation; both the till
 * path and the simulation use `evaluateEarn`, so a simulation gives what the till would have given.
 */

/** One line of a purchase as rules see it. `paid` is its share of the money paid (after points). */
export interface LineRecord {
  sku: string;
  category: string | null;
  quantity: number;
  price: number;
  amount: number;
  paid: number;
}

/** What a rule's condition is evaluated over: a transaction, and for line rules one of its lines. */
export interface EarnRecord {
  trigger: 'purchase' | 'event';
  /** The receipt's total in minor units (before points were spent). */
  amount: number;
  /** What was paid in money (minor units): the base of per-unit formulas. */
  paid: number;
  channel: string;
  branch: string | null;
  tier: string | null;
  /** Keys of the member's clubs (at the time of the transaction; the simulation reads today's memberships). */
  clubs?: string[];
  /** In the programme's time zone: mon … sun, and 0 … 23. */
  weekday: string;
  hour: number;
  skus: string[];
  categories: string[];
  lines: LineRecord[];
  line?: LineRecord;
  event?: { name: string; promotionId?: unknown; batchId?: unknown; rewardPoints?: unknown };
  occurredAt: Date;
}

const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);
const str = (x: unknown) => (typeof x === 'string' ? x : undefined);

/**
 * The fields an earn rule may name. SQL fragments read a `loyalty_transactions t` row and, for line fields, a line
 * `l` from `jsonb_array_elements(t.lines) as l(value)` — the simulation's prefilter compiles rules over them.
 */
export const EARN_FIELDS = defineCatalogue<EarnRecord>({
  amount: {
    type: 'number',
    label: { en: 'Receipt total (minor units)', ru: 'Сумма чека (в копейках)' },
    sql: sql`t.amount`,
    get: (r) => r.amount,
  },
  channel: {
    type: 'string',
    label: { en: 'Channel', ru: 'Канал' },
    sql: sql`t.channel`,
    get: (r) => r.channel,
    values: ['pos', 'web', 'app', 'call_centre'],
  },
  branch: {
    type: 'string',
    label: { en: 'Store or branch code', ru: 'Код магазина или филиала' },
    sql: sql`t.branch`,
    get: (r) => r.branch ?? undefined,
  },
  tier: { type: 'string', label: { en: 'Tier', ru: 'Уровень' }, sql: sql`t.tier`, get: (r) => r.tier ?? undefined },
  'member.clubs': {
    type: 'tags',
    label: { en: 'Member’s clubs', ru: 'Клубы участника' },
    sql: sql`array(select c.key from loyalty_club_members cm join loyalty_clubs c on c.id = cm.club_id
      where cm.member_id = t.member_id and c.status = 'active')`,
    get: (r) => r.clubs ?? [],
  },
  weekday: {
    type: 'string',
    label: { en: 'Day of the week', ru: 'День недели' },
    sql: sql`t.local_weekday`,
    get: (r) => r.weekday,
    values: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
  },
  hour: { type: 'number', label: { en: 'Hour (0–23)', ru: 'Час (0–23)' }, sql: sql`t.local_hour`, get: (r) => r.hour },
  skus: {
    type: 'tags',
    label: { en: 'SKUs in the receipt', ru: 'Артикулы в чеке' },
    sql: sql`array(select x ->> 'sku' from jsonb_array_elements(coalesce(t.lines, '[]')) x)`,
    get: (r) => r.skus,
  },
  categories: {
    type: 'tags',
    label: { en: 'Categories in the receipt', ru: 'Категории в чеке' },
    sql: sql`array(select x ->> 'category' from jsonb_array_elements(coalesce(t.lines, '[]')) x where x ->> 'category' is not null)`,
    get: (r) => r.categories,
  },
  'line.sku': {
    type: 'string',
    label: { en: 'Line: SKU', ru: 'Строка: артикул' },
    sql: sql`(l.value ->> 'sku')`,
    get: (r) => r.line?.sku,
  },
  'line.category': {
    type: 'string',
    label: { en: 'Line: category', ru: 'Строка: категория' },
    sql: sql`(l.value ->> 'category')`,
    get: (r) => r.line?.category ?? undefined,
  },
  'line.quantity': {
    type: 'number',
    label: { en: 'Line: quantity', ru: 'Строка: количество' },
    sql: sql`(l.value ->> 'quantity')::numeric`,
    get: (r) => r.line?.quantity,
  },
  'line.amount': {
    type: 'number',
    label: { en: 'Line: total (minor units)', ru: 'Строка: сумма (в копейках)' },
    sql: sql`(l.value ->> 'amount')::numeric`,
    get: (r) => r.line?.amount,
  },
  'event.name': {
    type: 'string',
    label: { en: 'Event name', ru: 'Название события' },
    sql: sql`t.event_name`,
    get: (r) => r.event?.name,
    values: ['Code Registered', 'Referral Completed'],
  },
  'event.promotion_id': {
    type: 'string',
    label: { en: 'Event: promotion', ru: 'Событие: акция' },
    sql: sql`(t.properties ->> 'promotionId')`,
    get: (r) => str(r.event?.promotionId),
  },
  'event.batch_id': {
    type: 'string',
    label: { en: 'Event: code batch', ru: 'Событие: партия кодов' },
    sql: sql`(t.properties ->> 'batchId')`,
    get: (r) => str(r.event?.batchId),
  },
  'event.reward_points': {
    type: 'number',
    label: { en: 'Event: reward points', ru: 'Событие: баллы награды' },
    sql: sql`(case when jsonb_typeof(t.properties -> 'rewardPoints') = 'number' then (t.properties ->> 'rewardPoints')::numeric end)`,
    get: (r) => num(r.event?.rewardPoints),
  },
});

export const EarnCondition = ruleSchema(EARN_FIELDS);

const Instant = z.iso.datetime({ offset: true });

/** An earn rule as it is written through the API. */
export const RuleInput = z
  .object({
    name: z.string().trim().min(1).max(200),
    status: RuleStatus.default('active'),
    trigger: RuleTrigger,
    /** For event rules: the event name heard (e.g. `Code Registered`). */
    eventName: EventName.optional(),
    scope: RuleScope.default('transaction'),
    /** Absent: every transaction (or line) of the trigger matches. */
    condition: EarnCondition.optional(),
    formula: Formula,
    wallet: WalletKey.default('points'),
    /** Lower runs first; ties run in creation order. */
    priority: z.number().int().min(0).max(1_000_000).default(100),
    /** When this rule matches, later rules are not evaluated for the transaction. */
    stopAfter: z.boolean().default(false),
    caps: z.array(Cap).max(5).default([]),
    startsAt: Instant.optional(),
    endsAt: Instant.optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.trigger === 'event' && !r.eventName)
      ctx.addIssue({ code: 'custom', path: ['eventName'], message: 'an event rule names its event' });
    if (r.trigger === 'purchase' && r.eventName)
      ctx.addIssue({ code: 'custom', path: ['eventName'], message: 'only event rules name an event' });
    if (r.trigger === 'event' && (r.scope === 'line' || r.formula.kind === 'per_unit'))
      ctx.addIssue({ code: 'custom', path: ['formula'], message: 'event rules have no lines or amounts' });
    if (r.trigger === 'purchase' && r.formula.kind === 'from_event')
      ctx.addIssue({ code: 'custom', path: ['formula'], message: 'from_event is for event rules' });
    if (r.startsAt && r.endsAt && Date.parse(r.startsAt) >= Date.parse(r.endsAt))
      ctx.addIssue({ code: 'custom', path: ['endsAt'], message: 'endsAt must be after startsAt' });
  });
export type RuleInput = z.infer<typeof RuleInput>;

export const Rule = z
  .object({
    id: z.uuid(),
    name: z.string(),
    status: RuleStatus,
    trigger: RuleTrigger,
    eventName: z.string().nullable(),
    scope: RuleScope,
    condition: z.unknown().nullable(),
    formula: Formula,
    wallet: z.string(),
    priority: z.number(),
    stopAfter: z.boolean(),
    caps: z.array(Cap),
    startsAt: Instant.nullable(),
    endsAt: Instant.nullable(),
  })
  .meta({ id: 'LoyaltyEarnRule' });
export type Rule = z.infer<typeof Rule>;

/** A rule as the evaluation uses it. */
export interface EarnRule {
  id: string;
  name: string;
  status: 'active' | 'draft' | 'archived';
  trigger: 'purchase' | 'event';
  eventName: string | null;
  scope: 'transaction' | 'line';
  condition: RuleNode | null;
  formula: Formula;
  wallet: string;
  priority: number;
  stopAfter: boolean;
  caps: Cap[];
  startsAt: Date | null;
  endsAt: Date | null;
}

// ---- local time

const WEEKDAY_OF_INTL: Record<string, string> = {
  Mon: 'mon',
  Tue: 'tue',
  Wed: 'wed',
  Thu: 'thu',
  Fri: 'fri',
  Sat: 'sat',
  Sun: 'sun',
};
const formatters = new Map<string, Intl.DateTimeFormat>();

export interface LocalTime {
  year: number;
  month: number;
  day: number;
  weekday: string;
  hour: number;
}

const WEEKDAY_OF_UTC_DAY = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
/** Per time zone, the UTC offset of the last quarter of an hour asked about (zones change offset only at those). */
const offsets = new Map<string, { quarter: number; offsetMs: number }>();
const QUARTER = 900_000;

/**
 * The wall-clock parts of an instant in a time zone. Intl is asked once per zone and quarter of an hour (it is
 * the slow part of a till transaction otherwise); the parts come from the instant shifted by that offset.
 */
export function localTime(at: Date, timeZone: string): LocalTime {
  const quarter = Math.floor(at.getTime() / QUARTER);
  let cached = offsets.get(timeZone);
  if (!cached || cached.quarter !== quarter) {
    const start = quarter * QUARTER;
    const p = intlParts(new Date(start), timeZone);
    const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute);
    cached = { quarter, offsetMs: wall - start };
    offsets.set(timeZone, cached);
  }
  const local = new Date(at.getTime() + cached.offsetMs);
  return {
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    weekday: WEEKDAY_OF_UTC_DAY[local.getUTCDay()] as string,
    hour: local.getUTCHours(),
  };
}

function intlParts(at: Date, timeZone: string): LocalTime & { minute: number } {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      weekday: 'short',
      hour: 'numeric',
      minute: 'numeric',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  const parts: Record<string, string> = {};
  for (const p of f.formatToParts(at)) parts[p.type] = p.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    weekday: WEEKDAY_OF_INTL[parts.weekday as string] ?? 'mon',
    hour: Number(parts.hour) % 24,
    minute: Number(parts.minute),
  };
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The key of the cap period an instant falls in, in the programme's time zone: d:2026-11-25, w:2026-W48 … */
export function periodKey(period: Cap['period'], t: LocalTime): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  switch (period) {
    case 'day':
      return `d:${t.year}-${pad(t.month)}-${pad(t.day)}`;
    case 'month':
      return `m:${t.year}-${pad(t.month)}`;
    case 'year':
      return `y:${t.year}`;
    case 'ever':
      return 'e';
    case 'week': {
      // ISO 8601 week: the week with the year's first Thursday is week 1.
      const date = new Date(Date.UTC(t.year, t.month - 1, t.day));
      const dow = (date.getUTCDay() + 6) % 7;
      date.setUTCDate(date.getUTCDate() - dow + 3);
      const isoYear = date.getUTCFullYear();
      const firstThursday = new Date(Date.UTC(isoYear, 0, 4));
      const week =
        1 +
        Math.round(
          ((date.getTime() - firstThursday.getTime()) / 86_400_000 - 3 + ((firstThursday.getUTCDay() + 6) % 7)) / 7,
        );
      return `w:${isoYear}-W${pad(week)}`;
    }
  }
}

// ---- evaluation

export interface Usage {
  points: number;
  times: number;
}
export const usageKey = (ruleId: string, period: string) => `${ruleId}\u0001${period}`;

export interface Earning {
  ruleId: string;
  wallet: string;
  points: number;
}

export interface Evaluation {
  earned: Earning[];
  /** Increments of the cap counters, per rule and period key. */
  usage: { ruleId: string; period: string; points: number; times: number }[];
  /** The rules whose condition matched, in order (including capped ones). */
  matched: string[];
}

/** The rules a transaction of this trigger hears, in precedence order. */
export function applicableRules(rules: readonly EarnRule[], record: EarnRecord): EarnRule[] {
  const at = record.occurredAt.getTime();
  return rules
    .filter(
      (r) =>
        r.status === 'active' &&
        r.trigger === record.trigger &&
        (r.trigger !== 'event' || r.eventName === record.event?.name) &&
        (!r.startsAt || r.startsAt.getTime() <= at) &&
        (!r.endsAt || at < r.endsAt.getTime()),
    )
    .sort((a, b) => a.priority - b.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * What a transaction earns. Rules run in priority order (ties: creation order); a rule that matches and says
 * `stopAfter` ends the evaluation. Per-unit points are floored per rule; a transaction rule's points are
 * attributed to lines in proportion to what each line paid, so a later line multiplier ("double points on
 * coffee") multiplies the points its lines earned. Caps cut a rule's points to what is left in each of its
 * periods for this person; `usage` holds the caller's counters (current periods) and is not modified.
 */
export function evaluateEarn(
  rules: readonly EarnRule[],
  record: EarnRecord,
  usage: ReadonlyMap<string, Usage>,
  timeZone: string,
): Evaluation {
  const now = record.occurredAt;
  const local = localTime(now, timeZone);
  const used = new Map(usage);
  const earned: Earning[] = [];
  const increments = new Map<string, { ruleId: string; period: string; points: number; times: number }>();
  const matched: string[] = [];
  const subtotal = new Map<string, number>();
  const lineTotals = record.lines.map(() => new Map<string, number>());
  const add = (m: Map<string, number>, wallet: string, n: number) => m.set(wallet, (m.get(wallet) ?? 0) + n);

  for (const rule of applicableRules(rules, record)) {
    let points = 0;
    let isMatch = false;
    const perLine = new Array<number>(record.lines.length).fill(0);
    if (rule.scope === 'transaction') {
      isMatch = !rule.condition || evaluateRule(EARN_FIELDS, rule.condition, record, now);
      if (isMatch) {
        const f = rule.formula;
        if (f.kind === 'per_unit') points = Math.floor(record.paid / f.per) * f.points;
        else if (f.kind === 'fixed') points = f.points;
        else if (f.kind === 'multiplier') points = Math.floor((subtotal.get(rule.wallet) ?? 0) * (f.factor - 1));
        else points = Math.floor((num(record.event?.rewardPoints) ?? 0) * f.factor);
        if (points > 0 && record.paid > 0) {
          record.lines.forEach((l, i) => {
            perLine[i] = Math.floor((points * l.paid) / record.paid);
          });
        }
      }
    } else {
      record.lines.forEach((line, i) => {
        if (rule.condition && !evaluateRule(EARN_FIELDS, rule.condition, { ...record, line }, now)) return;
        isMatch = true;
        const f = rule.formula;
        let p = 0;
        if (f.kind === 'per_unit') p = Math.floor(line.paid / f.per) * f.points;
        else if (f.kind === 'fixed') p = f.points * (f.perItem ? Math.max(1, Math.floor(line.quantity)) : 1);
        else if (f.kind === 'multiplier')
          p = Math.floor(((lineTotals[i] as Map<string, number>).get(rule.wallet) ?? 0) * (f.factor - 1));
        perLine[i] = p;
        points += p;
      });
    }
    if (!isMatch) continue;
    matched.push(rule.id);
    const uncapped = points;
    for (const cap of rule.caps) {
      const u = used.get(usageKey(rule.id, periodKey(cap.period, local))) ?? { points: 0, times: 0 };
      if (cap.maxTimes !== undefined && u.times >= cap.maxTimes) points = 0;
      if (cap.maxPoints !== undefined) points = Math.max(0, Math.min(points, cap.maxPoints - u.points));
    }
    if (points > 0) {
      earned.push({ ruleId: rule.id, wallet: rule.wallet, points });
      add(subtotal, rule.wallet, points);
      perLine.forEach((p, i) => {
        const share = uncapped === points ? p : Math.floor((p * points) / uncapped);
        if (share > 0) add(lineTotals[i] as Map<string, number>, rule.wallet, share);
      });
      for (const cap of rule.caps) {
        const period = periodKey(cap.period, local);
        const k = usageKey(rule.id, period);
        const u = used.get(k) ?? { points: 0, times: 0 };
        used.set(k, { points: u.points + points, times: u.times + 1 });
        const inc = increments.get(k) ?? { ruleId: rule.id, period, points: 0, times: 0 };
        inc.points += points;
        inc.times += 1;
        increments.set(k, inc);
      }
    }
    if (rule.stopAfter) break;
  }
  return { earned, usage: [...increments.values()], matched };
}

/** The current period keys of a set of rules' caps (what to read from the usage counters). */
export function currentPeriods(rules: readonly EarnRule[], at: Date, timeZone: string): string[] {
  const local = localTime(at, timeZone);
  const keys = new Set<string>();
  for (const r of rules) for (const c of r.caps) keys.add(periodKey(c.period, local));
  return [...keys];
}

/** Builds the record of a purchase: lines' totals, each line's share of the money paid, local time. */
export function purchaseRecord(input: {
  lines: { sku: string; category?: string | null; quantity: number; price: number; amount?: number }[];
  pointsValue: number;
  channel: string;
  branch: string | null;
  tier: string | null;
  clubs?: string[];
  occurredAt: Date;
  timeZone: string;
}): EarnRecord {
  const lines = input.lines.map((l) => ({
    sku: l.sku,
    category: l.category ?? null,
    quantity: l.quantity,
    price: l.price,
    amount: l.amount ?? Math.round(l.quantity * l.price),
    paid: 0,
  }));
  const amount = lines.reduce((s, l) => s + l.amount, 0);
  const paid = Math.max(0, amount - input.pointsValue);
  for (const l of lines) l.paid = amount > 0 ? Math.floor((l.amount * paid) / amount) : 0;
  const local = localTime(input.occurredAt, input.timeZone);
  return {
    trigger: 'purchase',
    amount,
    paid,
    channel: input.channel,
    branch: input.branch,
    tier: input.tier,
    clubs: input.clubs ?? [],
    weekday: local.weekday,
    hour: local.hour,
    skus: [...new Set(lines.map((l) => l.sku))],
    categories: [...new Set(lines.flatMap((l) => (l.category ? [l.category] : [])))],
    lines,
    occurredAt: input.occurredAt,
  };
}
