import { z } from 'zod';

/**
 * Shapes of the imports API (`/api/v1/imports`): a file uploaded as the request body, processed by a background
 * job. The console imports this file for its types.
 */
export const IMPORT_KINDS = ['events', 'profiles'] as const;
export const ImportKind = z.enum(IMPORT_KINDS);
export type ImportKind = z.infer<typeof ImportKind>;

export const IMPORT_FORMATS = ['csv', 'ndjson'] as const;
export const ImportFormat = z.enum(IMPORT_FORMATS);
export type ImportFormat = z.infer<typeof ImportFormat>;

export const IMPORT_STATUSES = ['uploading', 'queued', 'running', 'done', 'failed'] as const;
export const ImportStatus = z.enum(IMPORT_STATUSES);
export type ImportStatus = z.infer<typeof ImportStatus>;

/** Content types the upload accepts as the raw file; anything else is refused with 415. */
export const UPLOAD_CONTENT_TYPES = [
  'text/csv',
  'application/csv',
  'text/plain',
  'application/x-ndjson',
  'application/jsonl',
  'application/json',
  'application/octet-stream',
] as const;

/** 2 GiB: the largest file one upload may carry. */
export const MAX_UPLOAD_BYTES = 2 * 1024 * 1024 * 1024;

export const ImportUploadQuery = z.object({
  kind: ImportKind.describe('profiles: one customer per row (identify); events: one interaction per row (track, …)'),
  fileName: z.string().trim().min(1).max(255).describe('The original file name, shown in the list'),
  format: ImportFormat.optional().describe('csv or ndjson; by default from the file name (.ndjson/.jsonl → ndjson)'),
  map: z
    .string()
    .max(4000)
    .optional()
    .describe('Column mapping for CSV, Header=field pairs separated by commas, e.g. E-mail=email,Mobile=phone'),
});
export type ImportUploadQuery = z.infer<typeof ImportUploadQuery>;

export const Import = z
  .object({
    id: z.uuid(),
    kind: ImportKind,
    format: ImportFormat,
    fileName: z.string(),
    mapping: z.record(z.string(), z.string()),
    status: ImportStatus,
    totalBytes: z.number().int().describe('Size of the uploaded file'),
    bytesDone: z.number().int().describe('How much of the file the import has read'),
    rows: z.number().int(),
    accepted: z.number().int(),
    rejected: z.number().int(),
    checkpointLine: z.number().int().describe('Last line of the last committed batch'),
    error: z.string().nullable(),
    createdBy: z.string().nullable(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .meta({ id: 'Import' });
export type Import = z.infer<typeof Import>;
