import { type RawBuilder, sql } from 'kysely';
import { z } from 'zod';

/**
 * Rules are data: one typed condition tree for segments, offer eligibility, earn rules and journey branches.
 *
 * A module declares a catalogue of the fields a rule may use — each with its type, how SQL reads it and how a
 * record in memory holds it — and gets back a zod schema that accepts only those fields and, per field type, only
 * the allowed operators and value shapes. A tree is compiled to parameterised SQL for sets and evaluated in memory
 * for one record in real time; both give the same answer (the differential test in rules.test.ts checks it on
 * both databases). There is no expression language and no `eval`; field names never reach SQL, only the
 * catalogue's own fragments do.
 *
 * Semantics, the same in both:
 * - a leaf about a missing value (SQL NULL, undefined) is false — except `exists`/`missing`, which ask about it;
 *   `not` negates a leaf's two-valued answer (SQL leaves are wrapped in coalesce(…, false));
 * - strings compare exactly (case-sensitive; normalise at ingestion); `contains` and `starts_with` too;
 * - numbers compare as numbers; times as instants; `within_last`/`before_last` are relative to the `now` given.
 *
 * ```ts
 * const fields = defineCatalogue({
 *   amount: { type: 'number', label: { en: 'Amount', ru: 'Сумма' }, sql: sql`t.amount`, get: (t) => t.amount },
 * });
 * const Rule = ruleSchema(fields);                     // zod: validates a tree from a request
 * const rule = Rule.parse(body.rule);
 * db.selectFrom('t').where(compileRule(fields, rule, now)) …  // SQL for sets
 * evaluateRule(fields, rule, record, now);             // one record in memory
 * ```
 */

export type FieldType = 'number' | 'string' | 'boolean' | 'time' | 'tags';
type Value = number | string | boolean | Date | string[] | null | undefined;

export interface FieldDef<R = never> {
  type: FieldType;
  label: { en: string; ru: string };
  /** The SQL expression of the field, in the query the rule is compiled into (a column, a jsonb path with a cast…). */
  sql: RawBuilder<unknown>;
  /** The field's value in a record evaluated in memory. */
  get: (record: R) => Value;
  /** For strings: the values a console offers (the rule may still name others). */
  values?: readonly string[];
}

export type Catalogue<R> = Record<string, FieldDef<R>>;

export function defineCatalogue<R>(fields: Catalogue<R>): Catalogue<R> {
  for (const name of Object.keys(fields)) {
    if (!/^[a-z][a-z0-9_.]{0,63}$/.test(name)) throw new Error(`rules: bad field name "${name}"`);
  }
  return fields;
}

/** Operators per field type: the allow-list. */
export const OPERATORS = {
  number: ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'between', 'in', 'exists', 'missing'],
  string: ['eq', 'ne', 'in', 'not_in', 'contains', 'starts_with', 'exists', 'missing'],
  boolean: ['is_true', 'is_false', 'exists', 'missing'],
  time: ['before', 'after', 'between', 'within_last', 'before_last', 'exists', 'missing'],
  tags: ['has', 'has_any', 'has_all', 'has_none', 'exists', 'missing'],
} as const satisfies Record<FieldType, readonly string[]>;

export type Operator = (typeof OPERATORS)[FieldType][number];

export interface Leaf {
  field: string;
  op: Operator;
  value?: unknown;
}
export type RuleNode = { all: RuleNode[] } | { any: RuleNode[] } | { not: RuleNode } | Leaf;

const MAX_DEPTH = 8;
const MAX_NODES = 200;
const MAX_LIST = 1000;

const finite = z.number().finite();
const text = z
  .string()
  .max(500)
  .refine((t) => !t.includes('\u0000'), 'no NUL characters');
const instant = z.iso.datetime({ offset: true });
const days = z.number().int().min(1).max(36_500);

/** The value shape each operator takes. */
const VALUE: Record<string, z.ZodType | null> = {
  'number:eq': finite,
  'number:ne': finite,
  'number:gt': finite,
  'number:gte': finite,
  'number:lt': finite,
  'number:lte': finite,
  'number:between': z.tuple([finite, finite]),
  'number:in': z.array(finite).min(1).max(MAX_LIST),
  'string:eq': text,
  'string:ne': text,
  'string:in': z.array(text).min(1).max(MAX_LIST),
  'string:not_in': z.array(text).min(1).max(MAX_LIST),
  'string:contains': text.min(1),
  'string:starts_with': text.min(1),
  'time:before': instant,
  'time:after': instant,
  'time:between': z.tuple([instant, instant]),
  'time:within_last': days,
  'time:before_last': days,
  'tags:has': text,
  'tags:has_any': z.array(text).min(1).max(MAX_LIST),
  'tags:has_all': z.array(text).min(1).max(MAX_LIST),
  'tags:has_none': z.array(text).min(1).max(MAX_LIST),
};

/** A zod schema of rule trees over a catalogue: unknown fields, operators and wrong value shapes are refused. */
export function ruleSchema<R>(catalogue: Catalogue<R>): z.ZodType<RuleNode> {
  const fieldNames = Object.keys(catalogue);
  const node: z.ZodType<RuleNode> = z.lazy(() =>
    z.union([
      z.object({ all: z.array(node).min(1).max(MAX_NODES) }).strict(),
      z.object({ any: z.array(node).min(1).max(MAX_NODES) }).strict(),
      z.object({ not: node }).strict(),
      z
        .object({ field: z.string(), op: z.string(), value: z.unknown().optional() })
        .strict()
        .superRefine((leaf, ctx) => {
          const def = catalogue[leaf.field];
          if (!def || !Object.hasOwn(catalogue, leaf.field)) {
            ctx.addIssue({
              code: 'custom',
              path: ['field'],
              message: `unknown field "${leaf.field}"; one of: ${fieldNames.join(', ')}`,
            });
            return;
          }
          const allowed = OPERATORS[def.type] as readonly string[];
          if (!allowed.includes(leaf.op)) {
            ctx.addIssue({
              code: 'custom',
              path: ['op'],
              message: `operator "${leaf.op}" does not apply to ${def.type} field "${leaf.field}"; one of: ${allowed.join(', ')}`,
            });
            return;
          }
          const shape = VALUE[`${def.type}:${leaf.op}`];
          if (!shape) {
            if (leaf.value !== undefined)
              ctx.addIssue({ code: 'custom', path: ['value'], message: `"${leaf.op}" takes no value` });
            return;
          }
          const parsed = shape.safeParse(leaf.value);
          if (!parsed.success) {
            const issue = parsed.error.issues[0];
            ctx.addIssue({
              code: 'custom',
              path: ['value', ...(issue?.path ?? [])] as (string | number)[],
              message: `${leaf.op} on ${def.type}: ${issue?.message ?? 'invalid value'}`,
            });
            return;
          }
          if (leaf.op === 'between') {
            const [a, b] = leaf.value as [number | string, number | string];
            const lo = def.type === 'time' ? Date.parse(String(a)) : Number(a);
            const hi = def.type === 'time' ? Date.parse(String(b)) : Number(b);
            if (lo > hi)
              ctx.addIssue({
                code: 'custom',
                path: ['value'],
                message: 'between: the first bound is above the second',
              });
          }
        }) as unknown as z.ZodType<Leaf>,
    ]),
  );
  return node.superRefine((tree, ctx) => {
    const { depth, nodes } = measure(tree);
    if (depth > MAX_DEPTH) ctx.addIssue({ code: 'custom', message: `a rule may nest at most ${MAX_DEPTH} levels` });
    if (nodes > MAX_NODES) ctx.addIssue({ code: 'custom', message: `a rule may have at most ${MAX_NODES} conditions` });
  });
}

function measure(node: RuleNode): { depth: number; nodes: number } {
  const children = 'all' in node ? node.all : 'any' in node ? node.any : 'not' in node ? [node.not] : [];
  let depth = 0;
  let nodes = 1;
  for (const child of children) {
    const m = measure(child);
    depth = Math.max(depth, m.depth);
    nodes += m.nodes;
  }
  return { depth: depth + 1, nodes };
}

function fieldOf<R>(catalogue: Catalogue<R>, name: string): FieldDef<R> {
  const def = Object.hasOwn(catalogue, name) ? catalogue[name] : undefined;
  if (!def) throw new Error(`rules: unknown field "${name}" (validate trees with ruleSchema first)`);
  return def;
}

const DAY = 86_400_000;

// ---------------------------------------------------------------- SQL

const ARRAY_TYPE: Record<FieldType, string> = {
  number: 'numeric[]',
  string: 'text[]',
  boolean: 'boolean[]',
  time: 'timestamptz[]',
  tags: 'text[]',
};

/** Compiles a validated tree to a parameterised SQL boolean over the catalogue's expressions. */
export function compileRule<R>(catalogue: Catalogue<R>, node: RuleNode, now: Date): RawBuilder<boolean> {
  if ('all' in node)
    return sql<boolean>`(${sql.join(
      node.all.map((n) => compileRule(catalogue, n, now)),
      sql` and `,
    )})`;
  if ('any' in node)
    return sql<boolean>`(${sql.join(
      node.any.map((n) => compileRule(catalogue, n, now)),
      sql` or `,
    )})`;
  if ('not' in node) return sql<boolean>`(not ${compileRule(catalogue, node.not, now)})`;
  const def = fieldOf(catalogue, node.field);
  const f = def.sql;
  const v = node.value;
  const num = (x: unknown) => sql`${String(x)}::numeric`;
  const at = (x: unknown) => sql`${new Date(x as string).toISOString()}::timestamptz`;
  const list = (xs: unknown) =>
    sql`${(xs as unknown[]).map((x) => (def.type === 'number' ? String(x) : x))}::${sql.raw(ARRAY_TYPE[def.type])}`;
  let leaf: RawBuilder<unknown>;
  switch (`${def.type}:${node.op}`) {
    case 'number:eq':
      leaf = sql`${f} = ${num(v)}`;
      break;
    case 'number:ne':
      leaf = sql`${f} <> ${num(v)}`;
      break;
    case 'number:gt':
      leaf = sql`${f} > ${num(v)}`;
      break;
    case 'number:gte':
      leaf = sql`${f} >= ${num(v)}`;
      break;
    case 'number:lt':
      leaf = sql`${f} < ${num(v)}`;
      break;
    case 'number:lte':
      leaf = sql`${f} <= ${num(v)}`;
      break;
    case 'number:between':
      leaf = sql`${f} between ${num((v as number[])[0])} and ${num((v as number[])[1])}`;
      break;
    case 'number:in':
    case 'string:in':
      leaf = sql`${f} = any(${list(v)})`;
      break;
    case 'string:not_in':
      leaf = sql`not (${f} = any(${list(v)}))`;
      break;
    case 'string:eq':
      leaf = sql`${f} = ${String(v)}::text`;
      break;
    case 'string:ne':
      leaf = sql`${f} <> ${String(v)}::text`;
      break;
    case 'string:contains':
      leaf = sql`strpos(${f}, ${String(v)}::text) > 0`;
      break;
    case 'string:starts_with':
      leaf = sql`starts_with(${f}, ${String(v)}::text)`;
      break;
    case 'boolean:is_true':
      leaf = sql`${f} = true`;
      break;
    case 'boolean:is_false':
      leaf = sql`${f} = false`;
      break;
    case 'time:before':
      leaf = sql`${f} < ${at(v)}`;
      break;
    case 'time:after':
      leaf = sql`${f} > ${at(v)}`;
      break;
    case 'time:between':
      leaf = sql`${f} between ${at((v as string[])[0])} and ${at((v as string[])[1])}`;
      break;
    case 'time:within_last':
      leaf = sql`${f} >= ${at(new Date(now.getTime() - (v as number) * DAY).toISOString())}`;
      break;
    case 'time:before_last':
      leaf = sql`${f} < ${at(new Date(now.getTime() - (v as number) * DAY).toISOString())}`;
      break;
    case 'tags:has':
      leaf = sql`${String(v)}::text = any(${f})`;
      break;
    case 'tags:has_any':
      leaf = sql`${f} && ${list(v)}`;
      break;
    case 'tags:has_all':
      leaf = sql`${f} @> ${list(v)}`;
      break;
    case 'tags:has_none':
      leaf = sql`not (${f} && ${list(v)})`;
      break;
    default:
      if (node.op === 'exists') return sql<boolean>`(${f} is not null)`;
      if (node.op === 'missing') return sql<boolean>`(${f} is null)`;
      throw new Error(`rules: operator "${node.op}" does not apply to ${def.type}`);
  }
  return sql<boolean>`coalesce(${leaf}, false)`;
}

// ---------------------------------------------------------------- memory

/**
 * A record's value as the field's type, or null for missing — strictly, as SQL sees a well-declared field: a
 * number field holding text is missing (declare its SQL with a type check, e.g. jsonb_typeof), not parsed.
 */
function typed(type: FieldType, x: Value): number | string | boolean | string[] | null {
  switch (type) {
    case 'number':
      return typeof x === 'number' && Number.isFinite(x) ? x : null;
    case 'string':
      return typeof x === 'string' ? x : null;
    case 'boolean':
      return typeof x === 'boolean' ? x : null;
    case 'time': {
      const t = x instanceof Date ? x.getTime() : typeof x === 'string' ? Date.parse(x) : Number.NaN;
      return Number.isNaN(t) ? null : t;
    }
    case 'tags':
      return Array.isArray(x) ? x.filter((t): t is string => typeof t === 'string') : null;
  }
}

/** Evaluates a validated tree for one record, with the same answers as compileRule gives in SQL. */
export function evaluateRule<R>(catalogue: Catalogue<R>, node: RuleNode, record: R, now: Date): boolean {
  if ('all' in node) return node.all.every((n) => evaluateRule(catalogue, n, record, now));
  if ('any' in node) return node.any.some((n) => evaluateRule(catalogue, n, record, now));
  if ('not' in node) return !evaluateRule(catalogue, node.not, record, now);
  const def = fieldOf(catalogue, node.field);
  const x = typed(def.type, def.get(record));
  if (node.op === 'exists') return x !== null;
  if (node.op === 'missing') return x === null;
  if (x === null) return false;
  const v = node.value;
  switch (def.type) {
    case 'number': {
      const n = x as number;
      switch (node.op) {
        case 'eq':
          return n === v;
        case 'ne':
          return n !== v;
        case 'gt':
          return n > (v as number);
        case 'gte':
          return n >= (v as number);
        case 'lt':
          return n < (v as number);
        case 'lte':
          return n <= (v as number);
        case 'between':
          return n >= (v as [number, number])[0] && n <= (v as [number, number])[1];
        case 'in':
          return (v as number[]).includes(n);
      }
      return false;
    }
    case 'string': {
      const s = x as string;
      switch (node.op) {
        case 'eq':
          return s === v;
        case 'ne':
          return s !== v;
        case 'in':
          return (v as string[]).includes(s);
        case 'not_in':
          return !(v as string[]).includes(s);
        case 'contains':
          return s.includes(v as string);
        case 'starts_with':
          return s.startsWith(v as string);
      }
      return false;
    }
    case 'boolean':
      return node.op === 'is_true' ? x === true : node.op === 'is_false' ? x === false : false;
    case 'time': {
      const t = x as number;
      switch (node.op) {
        case 'before':
          return t < Date.parse(v as string);
        case 'after':
          return t > Date.parse(v as string);
        case 'between':
          return t >= Date.parse((v as [string, string])[0]) && t <= Date.parse((v as [string, string])[1]);
        case 'within_last':
          return t >= now.getTime() - (v as number) * DAY;
        case 'before_last':
          return t < now.getTime() - (v as number) * DAY;
      }
      return false;
    }
    case 'tags': {
      const tags = x as string[];
      switch (node.op) {
        case 'has':
          return tags.includes(v as string);
        case 'has_any':
          return (v as string[]).some((t) => tags.includes(t));
        case 'has_all':
          return (v as string[]).every((t) => tags.includes(t));
        case 'has_none':
          return !(v as string[]).some((t) => tags.includes(t));
      }
      return false;
    }
  }
}

/** The fields of a catalogue a console can offer: name, type, labels, operators, suggested values. */
export function describeCatalogue<R>(catalogue: Catalogue<R>) {
  return Object.entries(catalogue).map(([name, def]) => ({
    name,
    type: def.type,
    label: def.label,
    operators: [...OPERATORS[def.type]],
    ...(def.values ? { values: [...def.values] } : {}),
  }));
}
