import type { Logger } from '../../platform/logger.ts';
import type { QueueDefinition } from '../../platform/queue.ts';
import { FORM_SUBMITTED_JOB } from './forms.submit.ts';

export interface SubmittedJob {
  workspaceId: string;
  /** `Form Submitted` / `Survey Answered` tracking messages, each with its own messageId. */
  messages: object[];
}

/**
 * Writes the events of committed submissions to the timeline through the events module's ingestion. The job is
 * enqueued in the submission's transaction (it exists exactly when the submission does), and the message id is
 * derived from the submission's, so a retried job adds nothing.
 */
export function formsJobs(
  ingest: (workspaceId: string, messages: unknown[]) => Promise<{ rejected: { code: string }[] }>,
  logger?: Logger,
): QueueDefinition[] {
  return [
    {
      name: FORM_SUBMITTED_JOB,
      batchSize: 20,
      options: { retryLimit: 10, retryDelay: 5, retryBackoff: true },
      handler: async (jobs) => {
        for (const job of jobs) {
          const data = job.data as SubmittedJob;
          const result = await ingest(data.workspaceId, data.messages);
          if (result.rejected.length > 0)
            logger?.warn(
              { rejected: result.rejected.map((r) => r.code), workspaceId: data.workspaceId },
              'form submission events refused by ingestion',
            );
        }
      },
    },
  ];
}
