import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db.ts';
import { DomainError } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import * as repo from './forms.repo.ts';
import type { Form, FormCreate, FormDefinition, FormResults, QuestionSummary, Submission } from './forms.schemas.ts';

/** Forms and their versions, as the management API uses them. */

export interface FormsDeps {
  db: Db;
  clock: Clock;
  publicUrl: string;
  /** The workspace's slug, for page addresses. */
  slugOf(workspaceId: string): Promise<string>;
  /** The workspace's newest write key (publishable), for the embed snippet. */
  writeKeyOf(workspaceId: string): Promise<string | null>;
  /** The consent module's wordings: a published box must show the text of the wording it records. */
  wordings(db: Db, workspaceId: string): Promise<{ purpose: string; version: string; locale: string; text: string }[]>;
}

export async function formOut(deps: FormsDeps, row: repo.FormRow, submissions: number): Promise<Form> {
  const slug = await deps.slugOf(row.workspace_id);
  const hosted = `${deps.publicUrl}/p/${encodeURIComponent(slug)}/f/${encodeURIComponent(row.key)}`;
  return {
    id: row.id,
    key: row.key,
    name: row.name,
    kind: row.kind,
    status: row.status,
    version: row.version,
    publishedVersion: row.published_version,
    definition: row.definition,
    submissions,
    hostedUrl: hosted,
    embedUrl: `${hosted}/embed.js`,
    submitUrl: `${deps.publicUrl}/v1/forms/${encodeURIComponent(row.key)}/submit`,
    writeKey: await deps.writeKeyOf(row.workspace_id),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export async function requireForm(db: Db, workspaceId: string, idOrKey: string, forUpdate = false) {
  const form = await repo.findForm(db, workspaceId, idOrKey, forUpdate);
  if (!form) throw new DomainError('not_found', 'FORM_NOT_FOUND', 'There is no such form in this workspace.');
  return form;
}

export async function createForm(trx: Db, workspaceId: string, input: FormCreate) {
  if (await repo.findForm(trx, workspaceId, input.key))
    throw new DomainError('conflict', 'FORM_KEY_TAKEN', 'Another form of this workspace has this key.');
  const row = {
    id: newId(),
    workspace_id: workspaceId,
    key: input.key,
    name: input.definition.name,
    kind: input.definition.kind,
    status: 'draft' as const,
    version: 1,
    published_version: null,
    definition: input.definition,
  };
  await repo.insertForm(trx, row);
  return requireForm(trx, workspaceId, row.id);
}

/**
 * Saves a new definition. A version that has been live is frozen (submissions name it): the edit becomes the
 * next version, live at once if the form is. A draft version is rewritten in place.
 */
export async function updateForm(trx: Db, workspaceId: string, id: string, definition: FormDefinition) {
  const form = await requireForm(trx, workspaceId, id, true);
  if (form.kind !== definition.kind && form.published_version !== null)
    throw new DomainError(
      'conflict',
      'FORM_KIND_FIXED',
      'A form that has been live cannot change between form and survey.',
    );
  const frozen = form.published_version !== null && form.version <= form.published_version;
  const version = frozen ? form.version + 1 : form.version;
  await repo.saveVersion(trx, workspaceId, form.id, version, definition);
  if (form.status === 'live') await repo.setStatus(trx, workspaceId, form.id, 'live', version);
  return requireForm(trx, workspaceId, form.id);
}

export async function publishForm(deps: Pick<FormsDeps, 'wordings'>, trx: Db, workspaceId: string, id: string) {
  const form = await requireForm(trx, workspaceId, id, true);
  await checkWordings(deps, trx, workspaceId, form.definition);
  await repo.setStatus(trx, workspaceId, form.id, 'live', Math.max(form.version, form.published_version ?? 0));
  return requireForm(trx, workspaceId, form.id);
}

/**
 * A consent box is proof only if the person saw the wording it records: each box must name an existing wording
 * version of its purpose, and its label must be that wording's text in every language the wording has.
 */
async function checkWordings(
  deps: Pick<FormsDeps, 'wordings'>,
  db: Db,
  workspaceId: string,
  definition: FormDefinition,
) {
  if (definition.consents.length === 0) return;
  const all = await deps.wordings(db, workspaceId);
  for (const box of definition.consents) {
    const texts = all.filter((w) => w.purpose === box.purpose && w.version === box.wordingVersion);
    if (texts.length === 0)
      throw new DomainError(
        'invalid',
        'UNKNOWN_WORDING',
        `The consent box "${box.key}" names wording version "${box.wordingVersion}" of "${box.purpose}", which does not exist. Add it in the consent settings or choose an existing one.`,
      );
    for (const w of texts) {
      const shown = box.label[w.locale as keyof typeof box.label];
      if (shown && shown.trim() !== w.text.trim())
        throw new DomainError(
          'invalid',
          'WORDING_MISMATCH',
          `The ${w.locale.toUpperCase()} label of consent box "${box.key}" differs from the text of wording "${box.wordingVersion}": choose the wording again so the form shows what is recorded.`,
        );
    }
  }
}

export async function closeForm(trx: Db, workspaceId: string, id: string) {
  const form = await requireForm(trx, workspaceId, id, true);
  if (form.status === 'draft')
    throw new DomainError('conflict', 'FORM_NOT_LIVE', 'A draft has never taken answers; publish it or leave it.');
  await repo.setStatus(trx, workspaceId, form.id, 'closed');
  return requireForm(trx, workspaceId, form.id);
}

export function submissionOut(row: repo.SubmissionRow): Submission {
  return {
    id: row.id,
    version: row.version,
    profileId: row.profile_id,
    answers: row.answers,
    consents: row.consents,
    source: row.source,
    channel: row.channel,
    createdAt: row.created_at.toISOString(),
    erased: row.erased_at !== null,
  };
}

/** Per question: answered, counts per option (choices, checkboxes, ratings), the average (ratings, numbers). */
export async function formResults(db: Db, workspaceId: string, form: repo.FormRow): Promise<FormResults> {
  const definition = form.definition as FormDefinition;
  const total = await repo.countSubmissions(db, workspaceId, form.id);
  const questions: QuestionSummary[] = [];
  for (const f of definition.fields) {
    if (f.maps.to === 'identity' || f.type === 'hidden') continue;
    const stats = await repo.questionStats(db, workspaceId, form.id, f.key);
    const q: QuestionSummary = { key: f.key, type: f.type, label: f.label, answered: stats.answered };
    if (['select', 'multiselect', 'checkbox', 'rating'].includes(f.type)) {
      const counts = await repo.questionCounts(db, workspaceId, form.id, f.key, f.type === 'multiselect');
      if (f.type === 'rating')
        q.counts = Array.from({ length: f.scale ?? 5 }, (_, i) => String(i + 1)).map((value) => ({
          value,
          count: counts.find((c) => c.value === value)?.count ?? 0,
        }));
      else if (f.options)
        q.counts = f.options.map((o) => ({
          value: o.value,
          count: counts.find((c) => c.value === o.value)?.count ?? 0,
        }));
      else q.counts = counts;
    }
    if (f.type === 'rating' || f.type === 'number') q.average = stats.average;
    questions.push(q);
  }
  return { total, questions };
}

const csvCell = (v: unknown) => {
  let s = v === undefined || v === null ? '' : Array.isArray(v) ? v.join('; ') : String(v);
  // Spreadsheets run cells that start with these as formulas.
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r;]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
};

/** The CSV's header and one line per submission (answers of every version's fields, then consents and source). */
export function csvHeader(form: repo.FormRow) {
  const d = form.definition as FormDefinition;
  const columns = ['submission_id', 'created_at', 'version', 'profile_id', 'channel'];
  return {
    fields: d.fields.map((f) => f.key),
    consents: d.consents.map((c) => c.key),
    line: `${[...columns, ...d.fields.map((f) => f.key), ...d.consents.map((c) => `consent_${c.key}`), 'source'].map(csvCell).join(',')}\n`,
  };
}

export function csvLine(header: ReturnType<typeof csvHeader>, s: Submission) {
  const cells = [
    s.id,
    s.createdAt,
    s.version,
    s.profileId,
    s.channel,
    ...header.fields.map((k) => s.answers[k]),
    ...header.consents.map((k) => (s.consents[k] === undefined ? '' : s.consents[k] ? 'yes' : 'no')),
    Object.entries(s.source)
      .map(([k, v]) => `${k}=${v}`)
      .join('&'),
  ];
  return `${cells.map(csvCell).join(',')}\n`;
}
