import { type Generated, sql } from 'kysely';
import { type Db, tables } from '../../platform/db.ts';
import type { FormDefinition, FormKind, FormStatus } from './forms.schemas.ts';

/** All SQL of the forms module; every statement is scoped by workspace. */

interface FormTables {
  forms: {
    id: string;
    workspace_id: string;
    key: string;
    name: string;
    kind: FormKind;
    status: FormStatus;
    version: number;
    published_version: number | null;
    definition: FormDefinition;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  form_versions: {
    workspace_id: string;
    form_id: string;
    version: number;
    definition: FormDefinition;
    created_at: Generated<Date>;
  };
  form_submissions: {
    id: string;
    workspace_id: string;
    form_id: string;
    version: number;
    profile_id: string | null;
    client_id: string | null;
    channel: 'api' | 'page';
    answers: Record<string, unknown>;
    consents: Record<string, boolean>;
    source: Record<string, string>;
    ip: string | null;
    user_agent: string | null;
    erased_at: Date | null;
    created_at: Date;
  };
}

export type FormRow = Omit<FormTables['forms'], 'created_at' | 'updated_at'> & { created_at: Date; updated_at: Date };
export type SubmissionRow = FormTables['form_submissions'];

const t = (db: Db) => tables<FormTables>(db);
const json = (value: unknown) => sql`${JSON.stringify(value)}::jsonb`;

export async function insertForm(db: Db, row: Omit<FormRow, 'created_at' | 'updated_at'>) {
  await t(db)
    .insertInto('forms')
    .values({ ...row, definition: json(row.definition) as never })
    .execute();
  await t(db)
    .insertInto('form_versions')
    .values({
      workspace_id: row.workspace_id,
      form_id: row.id,
      version: row.version,
      definition: json(row.definition) as never,
    })
    .execute();
}

export async function findForm(db: Db, workspaceId: string, idOrKey: string, forUpdate = false) {
  let q = t(db).selectFrom('forms').selectAll().where('workspace_id', '=', workspaceId);
  q = /^[0-9a-f-]{36}$/i.test(idOrKey) ? q.where('id', '=', idOrKey) : q.where('key', '=', idOrKey);
  if (forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

export async function listForms(db: Db, workspaceId: string) {
  return t(db)
    .selectFrom('forms as f')
    .selectAll('f')
    .select((eb) =>
      eb
        .selectFrom('form_submissions as s')
        .whereRef('s.form_id', '=', 'f.id')
        .where('s.workspace_id', '=', workspaceId)
        .select(eb.fn.countAll<number>().as('n'))
        .as('submissions'),
    )
    .where('f.workspace_id', '=', workspaceId)
    .orderBy('f.created_at', 'desc')
    .execute();
}

export async function countSubmissions(db: Db, workspaceId: string, formId: string) {
  const row = await t(db)
    .selectFrom('form_submissions')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('workspace_id', '=', workspaceId)
    .where('form_id', '=', formId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Saves the definition as `version`: a new version row, or the draft version rewritten. */
export async function saveVersion(
  db: Db,
  workspaceId: string,
  formId: string,
  version: number,
  definition: FormDefinition,
) {
  await t(db)
    .insertInto('form_versions')
    .values({ workspace_id: workspaceId, form_id: formId, version, definition: json(definition) as never })
    .onConflict((oc) => oc.columns(['form_id', 'version']).doUpdateSet({ definition: json(definition) as never }))
    .execute();
  await t(db)
    .updateTable('forms')
    .set({
      version,
      definition: json(definition) as never,
      name: definition.name,
      kind: definition.kind,
      updated_at: sql`now()` as never,
    })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', formId)
    .execute();
}

export async function setStatus(
  db: Db,
  workspaceId: string,
  formId: string,
  status: FormStatus,
  publishedVersion?: number,
) {
  await t(db)
    .updateTable('forms')
    .set({
      status,
      ...(publishedVersion !== undefined ? { published_version: publishedVersion } : {}),
      updated_at: sql`now()` as never,
    })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', formId)
    .execute();
}

export async function submissionByClientId(db: Db, workspaceId: string, formId: string, clientId: string) {
  return t(db)
    .selectFrom('form_submissions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('form_id', '=', formId)
    .where('client_id', '=', clientId)
    .executeTakeFirst();
}

/** Inserts a submission; false when the client's submission id is already stored (a concurrent retry won). */
export async function insertSubmission(
  db: Db,
  row: Omit<SubmissionRow, 'erased_at' | 'created_at'> & { created_at: Date },
) {
  const result = await sql<{ id: string }>`insert into form_submissions
      (id, workspace_id, form_id, version, profile_id, client_id, channel, answers, consents, source, ip, user_agent, created_at)
    values (${row.id}, ${row.workspace_id}, ${row.form_id}, ${row.version}, ${row.profile_id}, ${row.client_id},
      ${row.channel}, ${JSON.stringify(row.answers)}::jsonb, ${JSON.stringify(row.consents)}::jsonb,
      ${JSON.stringify(row.source)}::jsonb, ${row.ip}, ${row.user_agent}, ${row.created_at})
    on conflict (workspace_id, form_id, client_id) where client_id is not null do nothing
    returning id`.execute(db);
  return result.rows.length > 0;
}

/** Newest first; the cursor is the last id seen (ids are time-ordered). */
export async function listSubmissions(db: Db, workspaceId: string, formId: string, limit: number, before?: string) {
  let q = t(db)
    .selectFrom('form_submissions')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('form_id', '=', formId);
  if (before) q = q.where('id', '<', before);
  return q.orderBy('id', 'desc').limit(limit).execute();
}

/** Per question of a survey: how many answered, counts per value, the average of numbers. Keys are parameters. */
export async function questionCounts(db: Db, workspaceId: string, formId: string, key: string, multi: boolean) {
  const rows = multi
    ? await sql<{ value: string; n: number }>`select v.value, count(*)::int as n
        from form_submissions s cross join lateral jsonb_array_elements_text(
          case when jsonb_typeof(s.answers -> ${key}) = 'array' then s.answers -> ${key} else '[]'::jsonb end) as v(value)
        where s.workspace_id = ${workspaceId} and s.form_id = ${formId}
        group by v.value order by n desc, v.value`.execute(db)
    : await sql<{ value: string; n: number }>`select s.answers ->> ${key} as value, count(*)::int as n
        from form_submissions s
        where s.workspace_id = ${workspaceId} and s.form_id = ${formId} and s.answers ? ${key}
        group by 1 order by n desc, 1`.execute(db);
  return rows.rows.map((r) => ({ value: String(r.value), count: Number(r.n) }));
}

export async function questionStats(db: Db, workspaceId: string, formId: string, key: string) {
  const row = await sql<{ answered: number; average: string | number | null }>`select
      count(*) filter (where s.answers ? ${key} and s.answers -> ${key} <> '""'::jsonb and s.answers -> ${key} <> '[]'::jsonb)::int as answered,
      avg(case when jsonb_typeof(s.answers -> ${key}) = 'number' then (s.answers ->> ${key})::numeric end) as average
    from form_submissions s where s.workspace_id = ${workspaceId} and s.form_id = ${formId}`.execute(db);
  const r = row.rows[0];
  return { answered: Number(r?.answered ?? 0), average: r?.average == null ? null : Number(r.average) };
}

export async function submissionsOfProfiles(db: Db, workspaceId: string, profileIds: readonly string[]) {
  return t(db)
    .selectFrom('form_submissions as s')
    .innerJoin('forms as f', 'f.id', 's.form_id')
    .select([
      's.id',
      's.created_at',
      's.version',
      's.channel',
      's.answers',
      's.consents',
      's.source',
      's.ip',
      's.user_agent',
    ])
    .select(['f.key as form', 'f.name as form_name'])
    .where('s.workspace_id', '=', workspaceId)
    .where('s.profile_id', 'in', [...profileIds])
    .orderBy('s.id')
    .execute();
}

export async function eraseSubmissions(db: Db, workspaceId: string, profileIds: readonly string[], at: Date) {
  await t(db)
    .updateTable('form_submissions')
    .set({
      answers: json({}) as never,
      consents: json({}) as never,
      source: json({}) as never,
      ip: null,
      user_agent: null,
      client_id: null,
      erased_at: at,
    })
    .where('workspace_id', '=', workspaceId)
    .where('profile_id', 'in', [...profileIds])
    .execute();
}

export async function repointProfile(db: Db, workspaceId: string, survivorId: string, absorbedId: string) {
  await t(db)
    .updateTable('form_submissions')
    .set({ profile_id: survivorId })
    .where('workspace_id', '=', workspaceId)
    .where('profile_id', '=', absorbedId)
    .execute();
}
