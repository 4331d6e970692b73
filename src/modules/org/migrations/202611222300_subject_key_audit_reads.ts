import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // The key of the keyed hashes (HMAC-SHA-256) that stand in for an erased person's identifiers. Per workspace, so
  // that a hash means nothing outside it; created with a CSPRNG on first use (org.repo.ts subjectKey), never shown.
  await db.schema.alterTable('workspaces').addColumn('subject_key', 'text').execute();

  // Staff reads of personal data are audited too (who, what, when, from where, with which client).
  await db.schema.alterTable('audit_log').addColumn('user_agent', 'text').execute();
  // The audit log filtered by target: a profile's own entries, and the lists and searches that showed it.
  await sql`create index audit_log_target on audit_log (workspace_id, target_id) where target_id is not null`.execute(
    db,
  );
  await sql`create index audit_log_profile_ids on audit_log using gin ((details -> 'profileIds'))`.execute(db);
}
