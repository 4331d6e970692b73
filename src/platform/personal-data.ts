import type { Db } from './db.ts';

/**
 * The personal-data registry: how a data subject's export and erasure reach every module that keeps something about
 * a person, without the module that runs them (profiles) importing the modules above it. Each module that hangs data
 * on a profile registers a contributor in the composition root.
 *
 * ```ts
 * const personalData = createPersonalDataRegistry();
 * personalData.register({
 *   name: 'consents',
 *   export: (db, workspaceId, profileId) => repo.consentsOf(db, workspaceId, profileId),
 *   erase: (trx, workspaceId, profileId) => repo.eraseConsents(trx, workspaceId, profileId),
 * });
 * ```
 */
export interface PersonalDataContributor {
  /** The section's name in an export (`events`, `consents` …): lower-case letters, digits and underscores. */
  readonly name: string;
  /**
   * Every row this module keeps about the profile, personal values in clear. `subject.profileIds` are the profile
   * and every profile merged into it (what a module may still hold under an absorbed id).
   */
  export(db: Db, workspaceId: string, profileId: string, subject: SubjectRef): Promise<Record<string, unknown>[]>;
  /**
   * Removes or irreversibly replaces the personal values, inside the erasure's one transaction (`trx`): keep what
   * aggregates need (types, times, amounts, ids), drop what tells who the person is. `subject.values` are the
   * person's identifiers and personal trait values (name, address …), gathered from every contributor before any
   * of them erases, so that a module can scrub them out of free-form fields.
   */
  erase(trx: Db, workspaceId: string, profileId: string, subject: ErasureSubject): Promise<void>;
  /** Personal strings this module knows about the profile (identifiers, names), for the others' scrubbing. */
  personalValues?(trx: Db, workspaceId: string, profileId: string, subject: SubjectRef): Promise<string[]>;
}

export interface SubjectRef {
  /** The live profile first, then the ids of the profiles it absorbed. */
  readonly profileIds: readonly string[];
}

export interface ErasureSubject extends SubjectRef {
  /** Distinct, non-empty, at least 3 characters long: what must not be found anywhere after the erasure. */
  readonly values: readonly string[];
}

export interface SubjectExport {
  profileId: string;
  exportedAt: string;
  sections: Record<string, Record<string, unknown>[]>;
}

export interface PersonalDataRegistry {
  register(contributor: PersonalDataContributor): void;
  readonly contributors: readonly PersonalDataContributor[];
  /** Every contributor's rows, one section each, in registration order. */
  exportSubject(db: Db, workspaceId: string, subject: SubjectRef, now: Date): Promise<SubjectExport>;
  /** Every contributor erases inside `trx`. The caller owns the transaction, its locks and its audit entry. */
  eraseSubject(trx: Db, workspaceId: string, subject: SubjectRef): Promise<ErasureSubject>;
}

const SECTION = /^[a-z][a-z0-9_]{0,39}$/;

export function createPersonalDataRegistry(): PersonalDataRegistry {
  const contributors: PersonalDataContributor[] = [];
  return {
    contributors,
    register(contributor) {
      if (!SECTION.test(contributor.name)) throw new Error(`Bad personal-data section name "${contributor.name}"`);
      if (contributors.some((c) => c.name === contributor.name)) {
        throw new Error(`Personal-data section "${contributor.name}" is registered twice`);
      }
      contributors.push(contributor);
    },
    async exportSubject(db, workspaceId, subject, now) {
      const profileId = subject.profileIds[0] as string;
      const sections: Record<string, Record<string, unknown>[]> = {};
      for (const c of contributors) sections[c.name] = await c.export(db, workspaceId, profileId, subject);
      return { profileId, exportedAt: now.toISOString(), sections };
    },
    async eraseSubject(trx, workspaceId, ref) {
      const profileId = ref.profileIds[0] as string;
      const values = new Set<string>();
      for (const c of contributors) {
        for (const v of (await c.personalValues?.(trx, workspaceId, profileId, ref)) ?? []) {
          const t = v.trim();
          if (t.length >= 3) values.add(t);
        }
      }
      const subject: ErasureSubject = { profileIds: ref.profileIds, values: [...values] };
      for (const c of contributors) await c.erase(trx, workspaceId, profileId, subject);
      return subject;
    },
  };
}
