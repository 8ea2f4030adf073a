import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { InvalidInputError } from "../../domain/errors";
import type {
  DiscoveredGranule,
  GranuleError,
  GranuleRecord,
  GranuleStatus,
  Platform,
  UploadProgress,
} from "../../domain/granule";
import type { QueryFailure } from "../../domain/tally";
import {
  type FetchProgress,
  type FetchProgressUpdate,
  getFetchProgress,
  recordFetchFailure,
  recordFetchProgress,
} from "./cursor";
import type { StoreTable } from "./dynamo";
import {
  type ClaimResult,
  claimGranule,
  getGranule,
  markDownloaded,
  markFailed,
  recordDiscovered,
  renewLease,
  requeueGranule,
} from "./granules";
import {
  addMissingShardKeys,
  countByStatus,
  listByStatus,
  listPending,
  listPendingReconciled,
  type ReconciledPending,
} from "./listings";
import { claimObjectKey, markDuplicate, type ObjectKeyClaim, takeOverObjectKey } from "./names";
import { type PlatformRecount, recountDay } from "./recount";
import {
  forgetAbandonedUpload,
  markUploadAbandoned,
  markUploadCreating,
  recordChecksum,
  releaseAbandonedUpload,
  saveUploadProgress,
} from "./uploads";

export interface GranuleStoreOptions {
  tableName: string;
  /** How long a DOWNLOADING claim lasts before another worker may take it over (default 15 min). */
  leaseMs?: number;
  /** Attempts after which a FAILED granule is no longer pending (default 5). */
  maxAttempts?: number;
  /** Clock, injectable for lease tests. */
  now?: () => Date;
}

const DEFAULT_LEASE_MS = 15 * 60 * 1000;
const DEFAULT_MAX_ATTEMPTS = 5;

/**
 * The granule table: one item per granule and one counter item per (day, platform) search. Every
 * state transition is a single conditional write (no transactions), so two workers can never both
 * hold a granule and a DOWNLOADED granule is never claimed again.
 *
 * The methods are the public surface; each hands the checked options to the module of its concern:
 * granules.ts (lifecycle transitions), uploads.ts (checksum and upload records), listings.ts (the
 * sharded (day, status) index), cursor.ts (per (day, platform) search progress), over dynamo.ts.
 */
export class GranuleStore {
  readonly #table: StoreTable;

  /** @throws InvalidInputError naming a bad option. */
  constructor(client: DynamoDBDocumentClient, options: GranuleStoreOptions) {
    const { tableName } = options;
    let { leaseMs, maxAttempts, now } = options;
    leaseMs ??= DEFAULT_LEASE_MS;
    maxAttempts ??= DEFAULT_MAX_ATTEMPTS;
    now ??= () => new Date();
    if (typeof tableName !== "string" || tableName === "") {
      throw new InvalidInputError("tableName must be a non-empty string", { field: "tableName" });
    }
    if (!Number.isInteger(leaseMs) || leaseMs <= 0) {
      throw new InvalidInputError(`leaseMs must be a positive integer, got ${leaseMs}`, { field: "leaseMs" });
    }
    if (!Number.isInteger(maxAttempts) || maxAttempts <= 0) {
      throw new InvalidInputError(`maxAttempts must be a positive integer, got ${maxAttempts}`, {
        field: "maxAttempts",
      });
    }
    this.#table = { client, tableName, leaseMs, maxAttempts, now };
  }

  /**
   * Records a newly discovered granule as DISCOVERED, unless the table already holds it (its state
   * is never overwritten, so re-fetching a day is harmless).
   * @throws InvalidInputError on a day not on the calendar; InvalidHubDataError on a bad md5.
   */
  recordDiscovered(
    granule: DiscoveredGranule,
    day: string,
    options?: { countLater?: boolean },
  ): Promise<{ recorded: boolean }> {
    return recordDiscovered(this.#table, granule, day, options);
  }

  /** Reads a granule (strongly consistent), or undefined when the table does not hold it. */
  getGranule(granuleId: string): Promise<GranuleRecord | undefined> {
    return getGranule(this.#table, granuleId);
  }

  /**
   * Claims a granule for download: DISCOVERED, FAILED or an expired lease become DOWNLOADING with a
   * fresh lease and one more attempt; the caller's own lease (a retried child execution) is renewed.
   * @throws GranuleNotFoundError when the table does not hold the granule.
   */
  claimGranule(granuleId: string, owner: string): Promise<ClaimResult> {
    return claimGranule(this.#table, granuleId, owner);
  }

  /**
   * Extends the caller's lease by the lease duration from now.
   * @returns the new lease expiry, epoch milliseconds.
   * @throws LeaseLostError when the caller no longer holds the lease; GranuleNotFoundError.
   */
  renewLease(granuleId: string, owner: string): Promise<number> {
    return renewLease(this.#table, granuleId, owner);
  }

  /**
   * Stores the hub's MD5 of a granule the caller holds.
   * @throws InvalidHubDataError when `md5` is not 32 hex characters; LeaseLostError; GranuleNotFoundError.
   */
  recordChecksum(granuleId: string, owner: string, md5: string): Promise<void> {
    return recordChecksum(this.#table, granuleId, owner, md5);
  }

  /**
   * Saves (or with null, forgets) the resume state of the caller's multipart upload.
   * @throws LeaseLostError when the caller no longer holds the lease; GranuleNotFoundError.
   */
  saveUploadProgress(granuleId: string, owner: string, progress: UploadProgress | null): Promise<void> {
    return saveUploadProgress(this.#table, granuleId, owner, progress);
  }

  /**
   * Marks that the caller is about to create a multipart upload on `key` (see GranuleRecord.uploadCreating).
   * @throws LeaseLostError when the caller no longer holds the lease; GranuleNotFoundError.
   */
  markUploadCreating(granuleId: string, owner: string, key: string): Promise<void> {
    return markUploadCreating(this.#table, granuleId, owner, key);
  }

  /**
   * The sweeper's claim on an upload it is about to abort: marks `upload.abandonedAt` only while the
   * granule is still in the status the sweeper saw (for DOWNLOADING, with its lease expired before
   * `leaseExpiredBefore`), the upload is the same and it is not completing. A worker claiming the
   * granule serializes with this write, so no worker ever resumes (or completes) an upload the
   * sweeper aborts.
   * @returns whether the upload is now marked (false: the granule moved on, leave it).
   */
  markUploadAbandoned(
    granuleId: string,
    uploadId: string,
    expected: { status: GranuleStatus; leaseExpiredBefore?: number; markedAt?: number },
  ): Promise<boolean> {
    return markUploadAbandoned(this.#table, granuleId, uploadId, expected);
  }

  /**
   * Takes back the sweeper's hold (`markedAt`, as marked) after its abort failed: the upload is
   * resumable again. Never another sweep's hold, nor a newer upload.
   * @returns whether the hold was released.
   */
  releaseAbandonedUpload(granuleId: string, uploadId: string, markedAt: number): Promise<boolean> {
    return releaseAbandonedUpload(this.#table, granuleId, uploadId, markedAt);
  }

  /**
   * Drops an upload the sweeper marked abandoned and aborted, if the granule still records that one.
   * @returns whether it was removed.
   */
  forgetAbandonedUpload(granuleId: string, uploadId: string): Promise<boolean> {
    return forgetAbandonedUpload(this.#table, granuleId, uploadId);
  }

  /**
   * Marks the caller's granule DOWNLOADED (terminal) and drops its lease, resume state and last error.
   * Repeating the call with the same key after it succeeded is a no-op.
   * @throws LeaseLostError when the caller does not hold the lease; GranuleNotFoundError.
   */
  markDownloaded(
    granuleId: string,
    owner: string,
    result: { s3Key: string; bytesWritten: number; delivery?: GranuleRecord["delivery"] },
  ): Promise<void> {
    return markDownloaded(this.#table, granuleId, owner, result);
  }

  /**
   * Claims an object key for a granule id, once: the first id to claim a key holds it (a second call by
   * the holder is a no-op). One product name published under two ids maps to one key, downloaded once.
   * @returns the id holding the key (the caller's when it won).
   */
  claimObjectKey(key: string, granuleId: string): Promise<ObjectKeyClaim> {
    return claimObjectKey(this.#table, key, granuleId);
  }

  /** Hands an object key from `from` to `to`, only if `from` still holds it. @returns whether it moved. */
  takeOverObjectKey(key: string, from: string, to: string): Promise<boolean> {
    return takeOverObjectKey(this.#table, key, from, to);
  }

  /**
   * Marks the caller's granule DUPLICATE of `duplicateOf` (terminal: never downloaded) and drops its lease.
   * @throws LeaseLostError when the caller does not hold the lease; GranuleNotFoundError.
   */
  markDuplicate(granuleId: string, owner: string, duplicateOf: string): Promise<void> {
    return markDuplicate(this.#table, granuleId, owner, duplicateOf);
  }

  /**
   * Marks a granule FAILED with the error's name and message and drops its lease; keeps the upload
   * resume state so a later attempt continues. Never touches a DOWNLOADED granule: it is returned as is.
   * With `owner`, the write happens only if the caller holds the lease, the lease expired, or there is none.
   * @throws LeaseLostError when another worker holds a live lease; GranuleNotFoundError.
   */
  markFailed(granuleId: string, error: GranuleError, options?: { owner?: string }): Promise<GranuleRecord> {
    return markFailed(this.#table, granuleId, error, options);
  }

  /** Lists a day's granules in one status through the (day, status) index, following every page up to `limit`. */
  listByStatus(day: string, status: GranuleStatus, options?: { limit?: number }): Promise<GranuleRecord[]> {
    return listByStatus(this.#table, day, status, options);
  }

  /**
   * Lists what a download run should attempt for a day: DISCOVERED, FAILED for a reason that is not
   * terminal with attempts left, a checksum mismatch once more a day after it failed, and DOWNLOADING
   * whose lease expired (its worker is gone). A terminal failure stays out until `requeueGranule`.
   */
  listPending(day: string, options?: { now?: Date }): Promise<GranuleRecord[]> {
    return listPending(this.#table, day, options);
  }

  /**
   * listPending, checked: also counts every granule item the status index holds for the day and
   * reads the per (day, platform) `recorded` counters, so a caller can tell when the index (or its
   * paging) shows fewer granules than were recorded.
   */
  listPendingReconciled(day: string, options?: { now?: Date }): Promise<ReconciledPending> {
    return listPendingReconciled(this.#table, day, options);
  }

  /** Counts a day's granules in every status (COUNT queries on every shard of the index, no items read). */
  countByStatus(day: string): Promise<Record<GranuleStatus, number>> {
    return countByStatus(this.#table, day);
  }

  /**
   * One-off migration for a table written before the status index was sharded: gives every granule
   * item that lacks it its `dayShard`, so the index shows it. Idempotent (a conditional write per
   * item); a full Scan, so run it once, between daily runs.
   * @returns how many items it updated.
   */
  addMissingShardKeys(): Promise<number> {
    return addMissingShardKeys(this.#table);
  }

  /**
   * Puts a FAILED granule, or one whose lease expired, back to DISCOVERED with its attempts reset
   * (an operator's decision); keeps its last error and, unless `forgetUpload`, its upload resume state.
   * @returns whether it was requeued, and the granule as it now is.
   * @throws GranuleNotFoundError when the table does not hold the granule.
   */
  requeueGranule(
    granuleId: string,
    options?: { forgetUpload?: boolean },
  ): Promise<{ requeued: boolean; granule: GranuleRecord }> {
    return requeueGranule(this.#table, granuleId, options);
  }

  /**
   * Records one step of a (day, platform) search: what the hub reports available, how many entries
   * this step read (added to the running total) and where to resume.
   * @throws InvalidInputError on an unknown filter reason, or `expectedVersion` without `writeId`.
   */
  recordFetchProgress(day: string, platform: Platform, update: FetchProgressUpdate): Promise<FetchProgress> {
    return recordFetchProgress(this.#table, day, platform, update);
  }

  /**
   * Records that a (day, platform) search failed for good (idempotent: one SET), for Summarize, its
   * alarm and `ops status` to report until a later page of that search is read.
   */
  recordFetchFailure(
    day: string,
    platform: Platform,
    failure: Omit<QueryFailure, "at">,
  ): Promise<QueryFailure> {
    return recordFetchFailure(this.#table, day, platform, failure);
  }

  /**
   * Sets each (day, platform) counter's `recorded` to the granules the status index holds for it (an
   * operator's repair, and WriteManifest's answer to an index that keeps showing fewer than recorded).
   * Reads every status of the day; conditional on the value it read, so a granule counted meanwhile stays.
   * @returns the counters it found, with their value before and after.
   */
  recountDay(day: string): Promise<PlatformRecount[]> {
    return recountDay(this.#table, day);
  }

  /**
   * Reads the progress of a (day, platform) search, or undefined before its first page.
   * @throws InvalidInputError on an unknown platform.
   */
  getFetchProgress(day: string, platform: Platform): Promise<FetchProgress | undefined> {
    return getFetchProgress(this.#table, day, platform);
  }
}
