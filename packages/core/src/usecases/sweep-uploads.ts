import { AbortMultipartUploadCommand, type S3Client } from "@aws-sdk/client-s3";
import type { GranuleStore } from "../adapters/store/store";
import { daysBetween } from "../domain/day";
import { InvalidInputError } from "../domain/errors";
import type { GranuleRecord, GranuleStatus } from "../domain/granule";

/** A DOWNLOADING lease that ended this long ago belongs to a worker that is gone for good (4 default leases). */
export const DEFAULT_ABANDONED_LEASE_MS = 60 * 60 * 1000;

export interface SweepInput {
  /** Publication window, YYYY-MM-DD, inclusive. */
  from: string;
  to: string;
}

export interface SweepDeps {
  store: Pick<GranuleStore, "listByStatus" | "markUploadAbandoned" | "forgetAbandonedUpload">;
  s3: S3Client;
  bucket: string;
  /** How long after its lease expired a DOWNLOADING granule's upload is abandoned; default 1 h. */
  abandonedLeaseMs?: number;
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
  /** Aborts S3 refused or failed (error name): the upload stays marked abandoned for the next sweep. */
  failed: (SweptUpload & { error: string })[];
}

/** Statuses whose recorded upload nobody continues: the granule ended, or its worker is long gone. */
const SWEPT_STATUSES = ["DOWNLOADED", "FAILED", "DOWNLOADING"] as const satisfies readonly GranuleStatus[];

/**
 * Aborts the multipart uploads recorded on a window's granules that nobody will continue — granules
 * that ended DOWNLOADED or FAILED, and DOWNLOADING ones whose lease expired long ago — from the
 * table alone: HLS's bucket grants no list, so the table is where every upload we create is known.
 * Each upload is first marked abandoned with a conditional write (so a worker claiming the granule
 * meanwhile never resumes or completes it), then aborted, then dropped from the item.
 * @throws InvalidInputError on a bad window, bucket or option.
 */
export async function sweepAbandonedUploads(input: SweepInput, deps: SweepDeps): Promise<SweepResult> {
  let { abandonedLeaseMs, now } = deps;
  abandonedLeaseMs ??= DEFAULT_ABANDONED_LEASE_MS;
  now ??= Date.now;
  if (deps.bucket === "") throw new InvalidInputError("bucket is empty", { field: "bucket" });
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
        const marked = await deps.store.markUploadAbandoned(granule.granuleId, upload.uploadId, {
          status,
          ...(status === "DOWNLOADING" && { leaseExpiredBefore: cutoff }),
        });
        if (!marked) continue;
        try {
          await abortUpload(deps.s3, deps.bucket, upload.key, upload.uploadId);
        } catch (error) {
          // Housekeeping must not fail the day's execution: the mark keeps the upload for the next sweep.
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
