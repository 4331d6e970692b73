import type { Logger } from '../../platform/logger.ts';
import type { QueueDefinition } from '../../platform/queue.ts';
import { CODE_REGISTERED_JOB } from './codes.register.ts';

export interface RegisteredJob {
  workspaceId: string;
  /** `Code Registered` tracking messages, each with its own messageId. */
  messages: object[];
}

/**
 * Writes the `Code Registered` events of committed registrations to the timeline, through the events module's
 * ingestion. Registrations now write their event in their own transaction (codes.claim.ts); this job drains the ones
 * that versions before 2026-11-23 enqueued instead. Each message's id is derived from the registration's, so a
 * retried job adds nothing.
 */
export function codesJobs(
  ingest: (workspaceId: string, messages: unknown[]) => Promise<{ rejected: { code: string }[] }>,
  logger?: Logger,
): QueueDefinition[] {
  return [
    {
      name: CODE_REGISTERED_JOB,
      batchSize: 20,
      options: { retryLimit: 10, retryDelay: 5, retryBackoff: true },
      handler: async (jobs) => {
        for (const job of jobs) {
          const data = job.data as RegisteredJob;
          const result = await ingest(data.workspaceId, data.messages);
          if (result.rejected.length > 0)
            logger?.warn(
              { rejected: result.rejected.map((r) => r.code), workspaceId: data.workspaceId },
              'code registration events refused by ingestion',
            );
        }
      },
    },
  ];
}
