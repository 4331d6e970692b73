import type { Db } from '../../platform/db.ts';
import { newId } from '../../platform/ids.ts';
import { CONCURRENT_MERGE, type ProfilesModule } from '../profiles/index.ts';
import { isRejection, type NormalizedEvent, normalizeMessage } from './events.normalize.ts';
import * as repo from './events.repo.ts';
import type { IngestResult } from './events.schemas.ts';

export interface EventsDeps {
  db: Db;
  profiles: ProfilesModule;
}

const RETRYABLE = new Set(['40P01', '40001']); // deadlock, serialization failure

/**
 * Stores a batch of tracking messages: normalises each, resolves their people in one pass, appends the events —
 * all in one transaction, so that an answer of 200 means every accepted event is committed, and a retry with the
 * same message ids adds nothing. Invalid messages are reported by index; the valid ones are kept.
 */
export async function ingest(
  deps: EventsDeps,
  workspaceId: string,
  messages: unknown[],
  receivedAt: Date,
  batch: { sentAt?: unknown; context?: Record<string, unknown> } = {},
): Promise<IngestResult> {
  const rejected: IngestResult['rejected'] = [];
  const valid: NormalizedEvent[] = [];
  messages.forEach((message, index) => {
    const result = normalizeMessage(message, receivedAt, batch);
    if (isRejection(result)) rejected.push({ index, ...result });
    else if (result.ids.length === 0)
      rejected.push({ index, code: 'MISSING_IDENTITY', message: 'Send userId or anonymousId.' });
    else valid.push(result);
  });
  if (valid.length === 0) return { success: false, accepted: 0, rejected };

  for (let attempt = 1; ; attempt++) {
    try {
      await deps.db.transaction().execute(async (trx) => {
        const resolution = await deps.profiles.resolveObservations(
          trx,
          workspaceId,
          valid.map((e) => ({ ids: e.ids, traits: e.profileTraits, at: e.occurredAt, channel: e.channel })),
        );
        await repo.insertEvents(
          trx,
          workspaceId,
          valid.map((e, i) => ({ ...e, id: newId(), profileId: resolution.profileIds[i] as string })),
        );
        // Last, so that row locks on busy profiles are held only until the commit right after.
        await deps.profiles.applyProjection(trx, workspaceId, resolution.projection);
      });
      return { success: true, accepted: valid.length, rejected };
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt < 6 && code && (RETRYABLE.has(code) || code === CONCURRENT_MERGE)) continue;
      throw error;
    }
  }
}
