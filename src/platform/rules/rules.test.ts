import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { testDatabaseUrl } from '../config.ts';
import { type Database, openPGlite, openPostgres } from '../db.ts';
import { compileRule, defineCatalogue, describeCatalogue, evaluateRule, type RuleNode, ruleSchema } from './index.ts';

interface Row {
  id: number;
  n: number | null;
  s: string | null;
  b: boolean | null;
  t: Date | null;
  tags: string[] | null;
  doc: Record<string, unknown>;
}

const fields = defineCatalogue<Row>({
  n: { type: 'number', label: { en: 'N', ru: 'N' }, sql: sql`r.n`, get: (r) => r.n },
  s: { type: 'string', label: { en: 'S', ru: 'S' }, sql: sql`r.s`, get: (r) => r.s },
  b: { type: 'boolean', label: { en: 'B', ru: 'B' }, sql: sql`r.b`, get: (r) => r.b },
  t: { type: 'time', label: { en: 'T', ru: 'T' }, sql: sql`r.t`, get: (r) => r.t },
  tags: { type: 'tags', label: { en: 'Tags', ru: 'Метки' }, sql: sql`r.tags`, get: (r) => r.tags },
  // A number inside a JSON document: SQL must check the type the way memory does (text "5" is not a number).
  'doc.x': {
    type: 'number',
    label: { en: 'X', ru: 'X' },
    sql: sql`case when jsonb_typeof(r.doc -> 'x') = 'number' then (r.doc ->> 'x')::numeric end`,
    get: (r) => r.doc.x as number,
  },
});
const Rule = ruleSchema(fields);

const NUMBERS = [-3.75, -1, 0, 0.5, 1, 2, 7, 42, 100];
const STRINGS = ['', 'a', 'ab', 'abc', 'A', 'Б', 'бв', 'x y', "o'hara"];
const TAGS = ['vip', 'new', 'lapsed', 'кофе'];
const BASE = Date.parse('2026-01-01T00:00:00.000Z');
const TIMES = [0, 1, 5, 30, 90, 365].map((d) => new Date(BASE - d * 86_400_000).toISOString());
const NOW = new Date(BASE);

const row = fc.record({
  n: fc.option(fc.constantFrom(...NUMBERS), { nil: null }),
  s: fc.option(fc.constantFrom(...STRINGS), { nil: null }),
  b: fc.option(fc.boolean(), { nil: null }),
  t: fc.option(
    fc.integer({ min: 0, max: 400 * 24 }).map((h) => new Date(BASE - h * 3_600_000)),
    { nil: null },
  ),
  tags: fc.option(fc.subarray(TAGS), { nil: null }),
  doc: fc.oneof(
    fc.constant({}),
    fc.constantFrom(...NUMBERS).map((x) => ({ x })),
    fc.constantFrom('5', 'x').map((x) => ({ x })),
  ),
});

const leaf: fc.Arbitrary<RuleNode> = fc.oneof(
  fc.record({
    field: fc.constantFrom('n', 'doc.x'),
    op: fc.constantFrom('eq', 'ne', 'gt', 'gte', 'lt', 'lte'),
    value: fc.constantFrom(...NUMBERS),
  }),
  fc.record({
    field: fc.constantFrom('n', 'doc.x'),
    op: fc.constant('between'),
    value: fc
      .tuple(fc.constantFrom(...NUMBERS), fc.constantFrom(...NUMBERS))
      .map(([a, b]) => [Math.min(a, b), Math.max(a, b)]),
  }),
  fc.record({
    field: fc.constantFrom('n', 'doc.x'),
    op: fc.constant('in'),
    value: fc.subarray(NUMBERS, { minLength: 1 }),
  }),
  fc.record({ field: fc.constant('s'), op: fc.constantFrom('eq', 'ne'), value: fc.constantFrom(...STRINGS) }),
  fc.record({
    field: fc.constant('s'),
    op: fc.constantFrom('in', 'not_in'),
    value: fc.subarray(STRINGS, { minLength: 1 }),
  }),
  fc.record({
    field: fc.constant('s'),
    op: fc.constantFrom('contains', 'starts_with'),
    value: fc.constantFrom(...STRINGS.filter((x) => x)),
  }),
  fc.record({ field: fc.constant('b'), op: fc.constantFrom('is_true', 'is_false') }),
  fc.record({ field: fc.constant('t'), op: fc.constantFrom('before', 'after'), value: fc.constantFrom(...TIMES) }),
  fc.record({
    field: fc.constant('t'),
    op: fc.constant('between'),
    value: fc.tuple(fc.constantFrom(...TIMES), fc.constantFrom(...TIMES)).map(([a, b]) => (a < b ? [a, b] : [b, a])),
  }),
  fc.record({
    field: fc.constant('t'),
    op: fc.constantFrom('within_last', 'before_last'),
    value: fc.constantFrom(1, 7, 30, 365),
  }),
  fc.record({ field: fc.constant('tags'), op: fc.constant('has'), value: fc.constantFrom(...TAGS) }),
  fc.record({
    field: fc.constant('tags'),
    op: fc.constantFrom('has_any', 'has_all', 'has_none'),
    value: fc.subarray(TAGS, { minLength: 1 }),
  }),
  fc.record({
    field: fc.constantFrom('n', 's', 'b', 't', 'tags', 'doc.x'),
    op: fc.constantFrom('exists', 'missing'),
  }),
) as fc.Arbitrary<RuleNode>;

const tree = fc.letrec<{ node: RuleNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.record({ all: fc.array(tie('node'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ any: fc.array(tie('node'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ not: tie('node') }),
  ) as fc.Arbitrary<RuleNode>,
})).node;

const backends: [string, () => Promise<Database>][] = [['pglite', () => openPGlite('memory://')]];
const pgUrl = testDatabaseUrl();
if (pgUrl) backends.push(['postgres', () => openPostgres(pgUrl)]);

for (const [name, open] of backends) {
  describe(`rule trees on ${name}`, () => {
    let database: Database;
    let rows: Row[];
    const table = `rule_rows_${Math.random().toString(36).slice(2, 10)}`;
    before(async () => {
      database = await open();
      rows = fc.sample(row, 120).map((r, i) => ({ ...r, id: i + 1 }));
      await sql`create table ${sql.table(table)} (id int primary key, n numeric, s text, b boolean, t timestamptz,
        tags text[], doc jsonb not null)`.execute(database.db);
      for (const r of rows) {
        await sql`insert into ${sql.table(table)} values (${r.id}, ${r.n === null ? null : String(r.n)}::numeric, ${r.s},
          ${r.b}, ${r.t?.toISOString() ?? null}::timestamptz, ${r.tags}::text[], ${JSON.stringify(r.doc)}::jsonb)`.execute(
          database.db,
        );
      }
    });
    after(async () => {
      await sql`drop table if exists ${sql.table(table)}`.execute(database.db);
      await database.close();
    });

    const inSql = async (rule: RuleNode) =>
      (
        await sql<{ id: number }>`select id from ${sql.table(table)} r where ${compileRule(fields, rule, NOW)}
          order by id`.execute(database.db)
      ).rows.map((r) => Number(r.id));
    const inMemory = (rule: RuleNode) => rows.filter((r) => evaluateRule(fields, rule, r, NOW)).map((r) => r.id);

    it('SQL and memory select the same records for any valid tree (differential, fast-check)', async () => {
      await fc.assert(
        fc.asyncProperty(tree, async (rule) => {
          const parsed = Rule.safeParse(rule);
          if (!parsed.success) return; // deeper or larger than allowed: not a rule anyone can save
          assert.deepEqual(await inSql(parsed.data), inMemory(parsed.data), JSON.stringify(rule));
        }),
        { numRuns: 400 },
      );
    });

    it('values are parameters, never SQL', async () => {
      const rule = Rule.parse({ field: 's', op: 'eq', value: "o'hara" });
      assert.deepEqual(await inSql(rule), inMemory(rule));
      const hostile = Rule.parse({ any: [{ field: 's', op: 'contains', value: `'); drop table ${table}; --` }] });
      assert.deepEqual(await inSql(hostile), []);
      const still = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(database.db);
      assert.equal(still.rows[0]?.n, rows.length);
    });
  });
}

describe('rule schema', () => {
  const problem = (tree: unknown) => {
    const r = Rule.safeParse(tree);
    assert.equal(r.success, false, JSON.stringify(tree));
    return JSON.stringify(r.error?.issues);
  };

  it('accepts only catalogue fields, the operators of their type, and values of the right shape', () => {
    assert.match(problem({ field: 'password', op: 'eq', value: 'x' }), /unknown field \\"password\\"/);
    assert.match(problem({ field: 'constructor', op: 'eq', value: 'x' }), /unknown field/);
    assert.match(problem({ field: 'n', op: 'contains', value: 'x' }), /does not apply to number/);
    assert.match(problem({ field: 'n', op: 'gt', value: '5' }), /gt on number/);
    assert.match(problem({ field: 't', op: 'after', value: 'yesterday' }), /after on time/);
    assert.match(problem({ field: 'n', op: 'between', value: [5, 1] }), /first bound is above/);
    assert.match(problem({ field: 'b', op: 'is_true', value: true }), /takes no value/);
    assert.match(problem({ field: 's', op: 'eq', value: 'a\u0000b' }), /NUL/);
    assert.match(problem({ field: 'n', op: 'in', value: [] }), /in on number/);
    assert.match(problem({ all: [] }), /too_small|at least/i);
    assert.match(problem({ field: 'n', op: 'eq', value: 1, sql: 'x' }), /unrecognized|Unrecognized/);
  });

  it('limits depth and size', () => {
    let deep: RuleNode = { field: 'n', op: 'exists' };
    for (let i = 0; i < 9; i++) deep = { not: deep };
    assert.match(problem(deep), /at most 8 levels/);
    const wide = { any: Array.from({ length: 150 }, () => ({ all: [{ field: 'n', op: 'exists' }] })) };
    assert.match(problem(wide), /at most 200 conditions/);
  });

  it('describes the catalogue for a console', () => {
    const described = describeCatalogue(fields);
    const tags = described.find((f) => f.name === 'tags');
    assert.deepEqual(tags?.operators, ['has', 'has_any', 'has_all', 'has_none', 'exists', 'missing']);
    assert.equal(tags?.label.ru, 'Метки');
  });
});
