import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
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
  PostgresQueryCompiler,
  type QueryResult,
} from 'kysely';
import pg from 'pg';
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
  close(): Promise<void>;
}

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

export async function openPostgres(connectionString: string, poolSize = 10): Promise<Database> {
  const pool = new pg.Pool({ connectionString, max: poolSize, types: pgTypes() });
  pool.on('error', () => {
    // An idle client lost its connection; the pool replaces it. Without a listener the process would crash.
  });
  const db = new Kysely({ dialect: new PostgresDialect({ pool }) });
  return {
    kind: 'postgres',
    db,
    connectionString,
    close: () => db.destroy(),
  };
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
  constructor(pglite: PGlite) {
    this.#pglite = pglite;
  }
  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.#pglite);
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
  constructor(pglite: PGlite) {
    this.#pglite = pglite;
  }
  async init() {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return new PGliteConnection(this.#pglite);
  }
  async beginTransaction(connection: DatabaseConnection) {
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

  constructor(pglite: PGlite) {
    this.#pglite = pglite;
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
