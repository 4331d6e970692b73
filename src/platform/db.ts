import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PGlite, type Transaction as PGliteTransaction, types as pgliteTypes } from '@electric-sql/pglite';
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  Kysely,
  PostgresAdapter,
  PostgresDialect,
  PostgresIntrospector,
  type PostgresPoolClient,
  PostgresQueryCompiler,
  type QueryResult,
} from 'kysely';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Config } from './config.ts';

/**
 * The system of record: embedded PGlite by default, PostgreSQL when DATABASE_URL is set. Both return the same
 * JavaScript types (see TYPE_PARSERS), run the same migrations and the same Kysely queries.
 */
export type DatabaseKind = 'pglite' | 'postgres';

// biome-ignore lint/suspicious/noExplicitAny: modules narrow this to their own tables (see `tables()` below)
export type Db = Kysely<any>;

export interface Database {
  readonly kind: DatabaseKind;
  readonly db: Db;
  /** Present on the embedded backend only: pg-boss drives it through its own adapter. */
  readonly pglite?: PGlite;
  readonly connectionString?: string;
  /**
   * One transaction on one session that may also COPY rows in — what bulk loads (imports) need beyond Kysely.
   * `work` gets the transaction's Kysely handle and `copyIn`; both run in the same transaction, which commits when
   * `work` resolves and rolls back when it throws. On PGlite it holds the session exclusively, like any transaction.
   */
  copyTransaction<T>(work: (trx: Db, copyIn: CopyIn) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * `COPY <target> FROM …` of rows in PostgreSQL's text format (tab-separated, `\N` for null, see `copyField`), or
 * in its binary format, header and trailer included. `target` is a table name with its column list, written by the
 * caller's code, never taken from input.
 */
export type CopyIn = (target: string, rows: string | Uint8Array, format?: 'text' | 'binary') => Promise<void>;

/** A value as one field of COPY's text format: backslash, tab, newline and carriage return escaped; null as \N. */
export function copyField(value: string | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  return COPY_SPECIAL.test(value) ? value.replace(COPY_ESCAPES, (c) => COPY_ESCAPED[c] as string) : value;
}
const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_ESCAPES = /[\\\t\n\r]/g;
const COPY_ESCAPED: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A module's typed view of the shared connection. Types only: no runtime cost. */
export function tables<T>(db: Db): Kysely<T> {
  return db as unknown as Kysely<T>;
}

// int8 and count(*) as numbers on both backends (PGlite already does; pg returns strings). Values stay far below
// 2^53 for counts, ids are never int8, and money is integer minor units. numeric stays a string on both so
// that nothing rounds silently; date stays a calendar date string, never a midnight-UTC Date.
const INT8 = 20;
const NUMERIC = 1700;
const DATE = 1082;

function pgTypes() {
  return {
    getTypeParser(oid: number, format?: 'text' | 'binary') {
      if (oid === INT8) return (v: string) => Number(v);
      if (oid === NUMERIC || oid === DATE) return (v: string) => v;
      // biome-ignore lint/suspicious/noExplicitAny: pg's own overloads
      return (pg.types.getTypeParser as any)(oid, format);
    },
  };
}

const pgliteParsers = {
  [pgliteTypes.INT8]: (v: string) => Number(v),
  [pgliteTypes.NUMERIC]: (v: string) => v,
  [pgliteTypes.DATE]: (v: string) => v,
};

export async function openDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'dbPoolSize'>): Promise<Database> {
  if (config.databaseUrl) return openPostgres(config.databaseUrl, config.dbPoolSize);
  return openPGlite(config.dataDir);
}

/**
 * Statements whose text starts with this comment are prepared once per connection, under a name derived from their
 * text, and then only bound and executed: PostgreSQL parses and plans them once (the connections run with
 * `plan_cache_mode = force_generic_plan`) instead of planning every call
 * (≈ 0.1–0.4 ms for the hot paths' statements with a dozen array parameters; left to its default, PostgreSQL kept
 * re-planning some of them, as a plan for the actual array lengths always looks cheaper). Only for statements of a
 * fixed shape whose best plan does not depend on the values (lookups by key); on PGlite the comment is just a comment.
 */
export const PREPARED = '/*prepared*/';

/** pg's client, preparing the statements marked PREPARED (see above). */
class PreparingClient extends pg.Client {
  static readonly #names = new Map<string, string>();
  // biome-ignore lint/suspicious/noExplicitAny: pg's query has a dozen overloads; this only forwards them
  override query(config: any, values?: any, callback?: any): any {
    if (typeof config === 'string' && config.startsWith(PREPARED)) {
      let name = PreparingClient.#names.get(config);
      if (!name) {
        name = `rapport_${createHash('sha1').update(config).digest('hex').slice(0, 20)}`;
        if (PreparingClient.#names.size < 10_000) PreparingClient.#names.set(config, name);
      }
      return super.query({ name, text: config, values }, callback);
    }
    return super.query(config, values, callback);
  }
}

export async function openPostgres(connectionString: string, poolSize = 10): Promise<Database> {
  const pool = new pg.Pool({ connectionString, max: poolSize, types: pgTypes(), Client: PreparingClient });
  // One generic plan for what PostgreSQL caches: the named statements above and the statements inside PL/pgSQL
  // functions (all of which look rows up by key; loyalty's and the projection's set it themselves too). Everything
  // else is sent unnamed and planned for its values, as before.
  // No JIT compilation: a generic plan's cost estimate can cross jit_above_cost as tables grow (the till's state
  // read did, once autoanalyze had seen its transactions), and then every call compiles ~100 functions, ≈ 30 ms
  // each time, for statements that run in well under a millisecond (bench/RESULTS.md, session 9).
  pool.on('connect', (client) => {
    // One simple-protocol round trip for both (two queued queries would trip pg's concurrent-query warning). Both
    // settings exist since PostgreSQL 12; a server that refused them would plan and compile as it does by default.
    client.query('set plan_cache_mode = force_generic_plan; set jit = off').catch(() => {});
  });
  pool.on('error', () => {
    // An idle client lost its connection; the pool replaces it. Without a listener the process would crash.
  });
  const db = new Kysely({ dialect: new PostgresDialect({ pool }) });
  return {
    kind: 'postgres',
    db,
    connectionString,
    copyTransaction: (work) => postgresCopyTransaction(pool, work),
    close: () => db.destroy(),
  };
}

/** A Kysely handle over one checked-out client, so that its statements and the client's COPYs share a transaction. */
async function postgresCopyTransaction<T>(pool: pg.Pool, work: (trx: Db, copyIn: CopyIn) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failure: unknown;
  try {
    const session = new Kysely({
      dialect: new PostgresDialect({
        pool: {
          // The pool hands out this one client and never releases it: `finally` below does.
          connect: async () =>
            ({
              processID: (client as unknown as { processID?: number }).processID,
              query: (sql: string, parameters: readonly unknown[]) => client.query(sql, parameters as unknown[]),
              release: () => {},
            }) as unknown as PostgresPoolClient,
          end: async () => {},
          options: {},
        },
      }),
    });
    const copyIn: CopyIn = async (target, rows, format = 'text') => {
      if (rows.length === 0) return;
      await pipeline(
        Readable.from([rows]),
        client.query(copyFrom(`copy ${target} from stdin with (format ${format})`)),
      );
    };
    return await session.transaction().execute((trx) => work(trx, copyIn));
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    // A client whose statement failed may be mid-protocol (a COPY cut short): never hand it to anyone else.
    client.release(failure instanceof Error ? failure : failure === undefined ? undefined : true);
  }
}

/** dataDir `memory://` gives a throwaway in-memory database (tests). */
export async function openPGlite(dataDir: string): Promise<Database> {
  const inMemory = dataDir.startsWith('memory://');
  if (!inMemory) mkdirSync(resolve(dataDir), { recursive: true });
  const pglite = await PGlite.create(inMemory ? dataDir : resolve(dataDir), { parsers: pgliteParsers });
  return fromPGlite(pglite);
}

export function fromPGlite(pglite: PGlite): Database {
  const db = new Kysely({ dialect: new PGliteDialect(pglite) });
  let closed = false;
  return {
    kind: 'pglite',
    db,
    pglite,
    copyTransaction: (work) =>
      pglite.transaction(async (tx) => {
        // Every statement of `work` runs on `tx`: PGlite's transaction lock is held from BEGIN to COMMIT.
        const trx = new Kysely({ dialect: new PGliteDialect(pglite, tx) });
        const copyIn: CopyIn = async (target, rows, format = 'text') => {
          if (rows.length === 0) return;
          await tx.query(`copy ${target} from '/dev/blob' with (format ${format})`, [], { blob: new Blob([rows]) });
        };
        return work(trx, copyIn);
      }),
    close: async () => {
      if (closed) return;
      closed = true;
      await db.destroy();
      await pglite.close();
    },
  };
}

class PGliteDialect implements Dialect {
  readonly #pglite: PGlite;
  readonly #within: PGliteTransaction | undefined;
  /** `within`: a PGlite transaction every statement runs in (copyTransaction); Kysely transactions are refused then. */
  constructor(pglite: PGlite, within?: PGliteTransaction) {
    this.#pglite = pglite;
    this.#within = within;
  }
  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.#pglite, this.#within);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
  createIntrospector(db: Kysely<unknown>) {
    return new PostgresIntrospector(db);
  }
}

class PGliteDriver implements Driver {
  readonly #pglite: PGlite;
  readonly #within: PGliteTransaction | undefined;
  constructor(pglite: PGlite, within?: PGliteTransaction) {
    this.#pglite = pglite;
    this.#within = within;
  }
  async init() {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return new PGliteConnection(this.#pglite, this.#within);
  }
  async beginTransaction(connection: DatabaseConnection) {
    if (this.#within) throw new Error('Already inside a copyTransaction: use its handle, not a nested transaction.');
    await (connection as PGliteConnection).begin();
  }
  async commitTransaction(connection: DatabaseConnection) {
    await (connection as PGliteConnection).finish('commit');
  }
  async rollbackTransaction(connection: DatabaseConnection) {
    await (connection as PGliteConnection).finish('rollback');
  }
  async releaseConnection() {}
  async destroy() {}
}

const ROLLBACK = Symbol('rollback');

/**
 * PGlite is one database session. A Kysely transaction must own it from BEGIN to COMMIT, or a statement of another
 * caller would run inside our transaction and vanish with our rollback. `pglite.transaction()` takes PGlite's
 * exclusive transaction lock, which every plain `pglite.query()` (ours and pg-boss's) also waits for; we hold
 * that callback open until Kysely commits or rolls back.
 */
class PGliteConnection implements DatabaseConnection {
  readonly #pglite: PGlite;
  #tx: PGliteTransaction | undefined;
  #settle: ((outcome: 'commit' | typeof ROLLBACK) => void) | undefined;
  #ended: Promise<{ error: unknown } | undefined> | undefined;

  constructor(pglite: PGlite, within?: PGliteTransaction) {
    this.#pglite = pglite;
    this.#tx = within;
  }

  begin(): Promise<void> {
    return new Promise((opened, failed) => {
      this.#ended = this.#pglite
        .transaction(async (tx) => {
          this.#tx = tx;
          const outcome = await new Promise<'commit' | typeof ROLLBACK>((settle) => {
            this.#settle = settle;
            opened();
          });
          if (outcome === ROLLBACK) throw ROLLBACK;
        })
        .then(
          () => undefined,
          (error: unknown) => {
            if (error === ROLLBACK) return undefined;
            failed(error); // BEGIN itself failed; a no-op once the transaction was opened
            return { error };
          },
        );
    });
  }

  async finish(outcome: 'commit' | 'rollback') {
    const ended = this.#ended;
    this.#settle?.(outcome === 'commit' ? 'commit' : ROLLBACK);
    this.#tx = undefined;
    this.#settle = undefined;
    this.#ended = undefined;
    const failure = await ended;
    if (failure) throw failure.error; // e.g. COMMIT refused because a deferred constraint failed
  }

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const runner = this.#tx ?? this.#pglite;
    const result = await runner.query<R>(compiled.sql, compiled.parameters as unknown[]);
    return {
      rows: result.rows,
      numAffectedRows: result.affectedRows === undefined ? undefined : BigInt(result.affectedRows),
    };
  }

  async *streamQuery<R>(compiled: CompiledQuery, chunkSize = 1000): AsyncIterableIterator<QueryResult<R>> {
    const { rows } = await this.executeQuery<R>(compiled);
    for (let i = 0; i < rows.length; i += chunkSize) yield { rows: rows.slice(i, i + chunkSize) };
  }
}
