import { AbortMultipartUploadCommand, type S3Client } from "@aws-sdk/client-s3";
import type { GranuleStore } from "../adapters/store/store";
import { daysBetween } from "../domain/day";
import { DOWNLOAD_RETRY_LADDER_SECONDS, InvalidInputError, TERMINAL_ERROR_NAMES } from "../domain/errors";
import type { GranuleRecord, GranuleStatus } from "../domain/granule";

/**
 * How long after its last sign of life an upload has nobody left to continue it: the Download's Retry
 * ladders end to end (DOWNLOAD_RETRY_LADDER_SECONDS, ~84 h, the slot wait's mostly). A DOWNLOADING
 * granule's lease must have ended this long ago; a FAILED one (not terminal) must have failed this plus
 * a lease ago. Until then a Retry or a later run may resume the upload, and aborting it would make that
 * attempt start from byte 0.
 */
export const DEFAULT_ABANDONED_LEASE_MS = DOWNLOAD_RETRY_LADDER_SECONDS * 1000;

export interface SweepInput {
  /** Publication window, YYYY-MM-DD, inclusive. */
  from: string;
  to: string;
}

export interface SweepDeps {
  store: Pick<
    GranuleStore,
    "listByStatus" | "markUploadAbandoned" | "forgetAbandonedUpload" | "releaseAbandonedUpload"
  >;
  s3: S3Client;
  bucket: string;
  /** How long after its lease expired an upload is abandoned; default DEFAULT_ABANDONED_LEASE_MS. */
  abandonedLeaseMs?: number;
  /** The lease (LEASE_SECONDS in ms) a FAILED granule's idle time adds it to; default 15 min. */
  leaseMs?: number;
  now?: () => number;
}

export interface SweptUpload {
  granuleId: string;
  status: GranuleStatus;
  key: string;
  uploadId: string;
}

export interface SweepResult {
  /** Uploads aborted and dropped from their granule. */
  aborted: SweptUpload[];
  /**
   * Verified uploads recorded as completing on a granule that is not DOWNLOADED: never aborted (the
   * object may already exist); the granule's next claim re-issues Complete.
   */
  completing: SweptUpload[];
  /** Aborts S3 refused or failed (error name): the upload is left as it was, resumable, for the next sweep. */
  failed: (SweptUpload & { error: string })[];
}

/** Statuses whose recorded upload nobody continues: the granule ended, or its worker is long gone. */
const SWEPT_STATUSES = ["DOWNLOADED", "FAILED", "DOWNLOADING"] as const satisfies readonly GranuleStatus[];

/**
 * Aborts the multipart uploads recorded on a window's granules that nobody will continue — granules
 * that ended (DOWNLOADED, or FAILED for a terminal reason), and those idle longer than any Retry waits
 * (DEFAULT_ABANDONED_LEASE_MS) — from the table alone: HLS's bucket grants no list, so the table is
 * where every upload we create is known. Each upload is first held with a conditional write (so a
 * worker claiming the granule meanwhile never resumes or completes it), then aborted, then dropped from
 * the item; when the abort fails the hold is released, so the upload is abandoned only once aborted.
 * @throws InvalidInputError on a bad window or option.
 */
export async function sweepAbandonedUploads(input: SweepInput, deps: SweepDeps): Promise<SweepResult> {
  let { abandonedLeaseMs, leaseMs, now } = deps;
  abandonedLeaseMs ??= DEFAULT_ABANDONED_LEASE_MS;
  leaseMs ??= 15 * 60 * 1000;
  now ??= Date.now;
  if (!Number.isInteger(abandonedLeaseMs) || abandonedLeaseMs < 0) {
    throw new InvalidInputError(`abandonedLeaseMs must be a non-negative integer, got ${abandonedLeaseMs}`, {
      field: "abandonedLeaseMs",
    });
  }
  const days = daysBetween(input.from, input.to);
  const result: SweepResult = { aborted: [], completing: [], failed: [] };
  const cutoff = now() - abandonedLeaseMs;
  for (const day of days) {
    for (const status of SWEPT_STATUSES) {
      for (const granule of await deps.store.listByStatus(day, status)) {
        const upload = granule.upload;
        if (upload === undefined || upload.uploadId === "") continue;
        const swept = { granuleId: granule.granuleId, status, key: upload.key, uploadId: upload.uploadId };
        if (upload.completing !== undefined) {
          if (status !== "DOWNLOADED") result.completing.push(swept);
          continue;
        }
        if (status === "DOWNLOADING" && !leaseEndedBefore(granule, cutoff)) continue;
        if (status === "FAILED" && !failedForGood(granule, cutoff - leaseMs)) continue;
        const markedAt = now();
        const marked = await deps.store.markUploadAbandoned(granule.granuleId, upload.uploadId, {
          status,
          markedAt,
          ...(status === "DOWNLOADING" && { leaseExpiredBefore: cutoff }),
        });
        if (!marked) continue;
        try {
          await abortUpload(deps.s3, deps.bucket, upload.key, upload.uploadId);
        } catch (error) {
          // Housekeeping must not fail the day's execution. The hold goes, so the upload stays resumable
          // until an abort succeeds (the next sweep tries again).
          await deps.store.releaseAbandonedUpload(granule.granuleId, upload.uploadId, markedAt);
          result.failed.push({ ...swept, error: error instanceof Error ? error.name : String(error) });
          continue;
        }
        await deps.store.forgetAbandonedUpload(granule.granuleId, upload.uploadId);
        result.aborted.push(swept);
      }
    }
  }
  return result;
}

function leaseEndedBefore(granule: GranuleRecord, cutoff: number): boolean {
  return (granule.leaseExpiresAt ?? 0) < cutoff;
}

const TERMINAL: readonly string[] = TERMINAL_ERROR_NAMES;

/** A FAILED granule nobody resumes: its reason is terminal, or it failed before `cutoff` (no Retry waits that long). */
function failedForGood(granule: GranuleRecord, cutoff: number): boolean {
  if (TERMINAL.includes(granule.lastError?.name ?? "")) return true;
  return granule.failedAtMs !== undefined && granule.failedAtMs < cutoff;
}

/**
 * AbortMultipartUpload, where NoSuchUpload is success: the upload is gone already (a lifecycle rule, an
 * earlier sweep that crashed before forgetting it). The S3 API reference on AbortMultipartUpload: "if any
 * part uploads are currently in progress, those part uploads might or might not succeed. As a result,
 * it might be necessary to abort a given multipart upload multiple times" — which is why the upload is
 * marked abandoned first: no worker of ours sends it another part.
 */
async function abortUpload(s3: S3Client, bucket: string, key: string, uploadId: string): Promise<void> {
  try {
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
  } catch (error) {
    if (!(error instanceof Error && error.name === "NoSuchUpload")) throw error;
  }
}
