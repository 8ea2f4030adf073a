import type { S3Client } from "@aws-sdk/client-s3";
import type { Hub } from "../adapters/hub/hub";
import type { SlotLease, SlotPool } from "../adapters/store/slots";
import type { GranuleStore } from "../adapters/store/store";
import { transferGranule } from "../adapters/transfer/transfer";
import {
  ArchiveInvalidError,
  ChecksumMismatchError,
  ChecksumNotPublishedError,
  HubSlotsBusyError,
  LeaseLostError,
  TransferInterruptedError,
} from "../domain/errors";
import {
  claimBlocker,
  type GranuleRecord,
  objectKeyFor,
  safeFolderOf,
  type UploadProgress,
} from "../domain/granule";
import { publicationLatencySeconds } from "../domain/latency";
import type { MetricSink } from "../domain/metrics";
import { holdObjectKey } from "./hold-object-key";
import { type DownloadLogger, errorMessage, recordFailure } from "./record-failure";
import { abortUploadsNobodyRecorded } from "./unrecorded-upload";

/**
 * What a Download child reports: it downloaded the granule, or found nothing to do (downloaded already,
 * leased by another worker, or a duplicate: another id of the same product name holds its object key).
 */
export type DownloadOutcome = "downloaded" | "already-downloaded" | "leased-elsewhere" | "duplicate";

export interface DownloadInput {
  granuleId: string;
  /** The lease owner: the child execution's id, stable across its retries. */
  owner: string;
}

export interface DownloadDeps {
  store: Pick<
    GranuleStore,
    | "getGranule"
    | "claimGranule"
    | "recordChecksum"
    | "saveUploadProgress"
    | "markUploadCreating"
    | "renewLease"
    | "markDownloaded"
    | "markFailed"
    | "claimObjectKey"
    | "takeOverObjectKey"
    | "markDuplicate"
  >;
  hub: Hub;
  /**
   * The hub's download quota across executions; without it (unit tests, one worker) none applies. With
   * `inUse` and `metrics`, each download reports the slots in use once it holds one.
   */
  slots?: Pick<SlotPool, "acquire" | "renew" | "release"> & Partial<Pick<SlotPool, "inUse">>;
  s3: S3Client;
  bucket: string;
  objectPrefix?: string;
  partSizeBytes?: number;
  queueSize?: number;
  /** Throughput floor of the body (bytes/s, 0: none) and its window; see TransferOptions. */
  minBytesPerSecond?: number;
  floorWindowMs?: number;
  /** Check each product's zip archive (entries' CRC-32, directory, SAFE folder) before its object exists. */
  archiveCheck?: boolean;
  /** The upload bucket lets us list multipart uploads: an upload an attempt never recorded is aborted at the next claim. */
  listUploads?: boolean;
  /**
   * With archiveCheck, a product whose hub publishes no MD5 is verified by the zip check and the exact
   * length the hub states (CDSE) instead of waiting for a checksum.
   */
  verifyWithoutChecksum?: boolean;
  /** Aborts the transfer (it checkpoints and raises TransferInterruptedError) before the Lambda times out. */
  signal?: AbortSignal;
  logger?: DownloadLogger;
  /**
   * Receives the per-granule figures of a verified object, the name of each failed attempt, the hub
   * slots in use after this download took one, and each wait for a slot.
   */
  metrics?: MetricSink;
  now?: () => number;
}

export interface DownloadResult {
  granuleId: string;
  outcome: DownloadOutcome;
  key?: string;
  bytes?: number;
  seconds?: number;
  /** Bytes already uploaded by an earlier attempt that this one continued from. */
  resumedFromBytes?: number;
  /** Claims the granule has taken, this one included. */
  attempts?: number;
  /** Seconds from the hub's publication time to the verified object (see publicationLatencySeconds). */
  latencySeconds?: number;
  /** Outcome `duplicate`: the granule id holding this product name's object key. */
  duplicateOf?: string;
}

/**
 * Downloads one granule: claims it, fetches the hub's MD5 afresh, streams the product into a verified
 * multipart upload (resuming a saved one) and marks it downloaded. A granule already downloaded or
 * leased by another worker is an outcome, not an error. Any error after the claim is first recorded
 * (FAILED, error name and message, see recordFailure) and then rethrown: the Download step is
 * where the child execution ends unsuccessfully, so a Redrive of the child re-runs the download.
 * @throws HubSlotsBusyError before anything else when every hub slot is held (nothing recorded);
 *   GranuleNotFoundError, LeaseLostError from the store; ChecksumNotPublishedError,
 *   ChecksumMismatchError, GranuleGoneError, HubThrottledError, HubUnavailableError, HubAuthError,
 *   TransferInterruptedError (TransferTooSlowError), GranuleOfflineError, HubFramingError, ArchiveInvalidError from the hub and
 *   the transfer — unchanged, their names drive Retry.
 */
export async function downloadGranule(input: DownloadInput, deps: DownloadDeps): Promise<DownloadResult> {
  // A raw AbortError/TimeoutError is in no Retry list: an attempt out of time must say "interrupted".
  throwIfOutOfTime(input.granuleId, deps.signal);
  const { granuleId, owner } = input;

  // A granule another execution has downloaded, or is downloading, needs no slot. Several executions
  // list the same day (the daily run, a backfill of it, a download-only run), and without this read
  // each of their children would take a slot only to hand it back, while real downloads wait for it.
  if (deps.slots !== undefined) {
    const settled = await settledElsewhere(input, deps);
    if (settled !== undefined) return settled;
  }
  // The slot comes before the claim and before any hub request: HubSlotsBusyError leaves the granule
  // as it was (never FAILED: waiting is not failing) and the state machine's Retry waits.
  const slot = await acquireSlot(input, deps);
  try {
    if (slot !== undefined) await reportSlotsInUse(deps);
    const claim = await deps.store.claimGranule(granuleId, owner);
    if (claim.outcome === "already-downloaded") {
      return {
        granuleId,
        outcome: "already-downloaded",
        key: claim.granule.s3Key,
        bytes: claim.granule.bytesWritten,
      };
    }
    if (claim.outcome === "leased") return { granuleId, outcome: "leased-elsewhere" };
    try {
      const duplicate = await holdObjectKey(claim.granule, owner, deps);
      if (duplicate !== undefined) return duplicate;
      const result = await transferClaimed(claim.granule, owner, deps, slot);
      if (deps.metrics !== undefined) reportDownloaded(result, deps.metrics);
      return result;
    } catch (error) {
      // Our lease lapsed and another worker claimed the granule: its fate is that worker's to record
      // (and, should it die too, the next run's: an expired DOWNLOADING lease is pending again). A
      // FAILED written here could land over that worker's delivered object, or end for good a
      // granule nobody failed. The upload stays as the checkpoint left it for the holder to resume.
      if (error instanceof LeaseLostError) {
        deps.logger?.info("lease lost to another worker: leaving the granule to it", {
          granuleId,
          error: errorMessage(error),
        });
        deps.metrics?.add("LeasesLost", 1);
        return { granuleId, outcome: "leased-elsewhere" };
      }
      deps.metrics?.add("DownloadFailed", 1, { errorName: error instanceof Error ? error.name : "Error" });
      await recordFailure({ granuleId, owner, error }, deps);
      throw error;
    }
  } finally {
    // Every exit (done, nothing to do, failure, out of time) frees the slot; a crash leaves it to its lease.
    if (slot !== undefined) await releaseSlot(slot, deps);
  }
}

/** The outcome of a granule that needs no download by this owner, read without writing (see claimBlocker). */
async function settledElsewhere(
  { granuleId, owner }: DownloadInput,
  deps: Pick<DownloadDeps, "store" | "now">,
): Promise<DownloadResult | undefined> {
  const granule = await deps.store.getGranule(granuleId);
  // Unknown granule: the claim below raises GranuleNotFoundError, as without a quota.
  if (granule === undefined) return undefined;
  const blocker = claimBlocker(granule, owner, (deps.now ?? Date.now)());
  if (blocker === "leased") return { granuleId, outcome: "leased-elsewhere" };
  if (blocker === "already-downloaded") {
    return { granuleId, outcome: "already-downloaded", key: granule.s3Key, bytes: granule.bytesWritten };
  }
  return undefined;
}

/** Takes a hub slot, counting a wait (HubSlotsBusyError, rethrown for the state machine's Retry). */
async function acquireSlot(input: DownloadInput, deps: DownloadDeps): Promise<SlotLease | undefined> {
  try {
    return await deps.slots?.acquire(input.owner, { granuleId: input.granuleId });
  } catch (error) {
    if (error instanceof HubSlotsBusyError) deps.metrics?.add("HubSlotWaits", 1);
    throw error;
  }
}

/**
 * The gauge of the quota: slots held (this one included) and the quota in force, read once right after
 * the acquire. A figure for the dashboard only: a failed read is logged, never fails the download.
 */
async function reportSlotsInUse(deps: Pick<DownloadDeps, "slots" | "metrics" | "logger">): Promise<void> {
  const { metrics, slots } = deps;
  if (metrics === undefined || slots?.inUse === undefined) return;
  try {
    const usage = await slots.inUse();
    metrics.add("HubSlotsInUse", usage.held);
    metrics.add("HubSlotQuota", usage.slots);
  } catch (error) {
    deps.logger?.info("could not read the hub slots in use", { error: errorMessage(error) });
  }
}

/** Frees the slot; a failure to do so is logged, never thrown over the download's own outcome. */
async function releaseSlot(slot: SlotLease, deps: Pick<DownloadDeps, "slots" | "logger">): Promise<void> {
  try {
    await deps.slots?.release(slot);
  } catch (error) {
    deps.logger?.info("could not release the hub slot; its lease ends it", {
      slot: slot.slot,
      error: errorMessage(error),
    });
  }
}

/** The per-granule metrics of a verified object (only a download that moved bytes reports them). */
function reportDownloaded(result: DownloadResult, metrics: MetricSink): void {
  const { bytes = 0, seconds = 0, resumedFromBytes = 0 } = result;
  metrics.add("GranuleBytes", bytes);
  metrics.add("GranuleSeconds", seconds);
  // Only this attempt's bytes went over the wire in `seconds`; a finish-only attempt moved none.
  const moved = bytes - resumedFromBytes;
  if (seconds > 0 && moved > 0) metrics.add("GranuleThroughput", moved / 1e6 / seconds);
  metrics.add("GranuleBytesResumed", resumedFromBytes);
  if (result.attempts !== undefined) metrics.add("GranuleAttempts", result.attempts);
  if (result.latencySeconds !== undefined) metrics.add("GranuleLatency", result.latencySeconds);
}

async function transferClaimed(
  granule: GranuleRecord,
  owner: string,
  deps: DownloadDeps,
  slot?: SlotLease,
): Promise<DownloadResult> {
  const now = deps.now ?? Date.now;
  const { granuleId } = granule;
  const { store, hub } = deps;
  // First, before the hub is asked anything: an upload an earlier attempt created but never recorded.
  await abortUploadsNobodyRecorded(granule, deps);

  // Every upload we created is on the granule (the transfer records it before its first part), so the
  // transfer either continues it or, when it cannot (another key: the prefix changed), aborts it.
  const resume = granule.upload;
  // An upload recorded as completing was verified against the hub's MD5 of that attempt and may
  // already be the object: it is only finished, never downloaded again, so the hub is not asked.
  const completing = resume?.completing;
  // The catalogue's size bounds the body (framing lies), when the hub says how far to trust it.
  const sizeToleranceBytes = hub.sizeToleranceBytes?.(granule.sizeBytes);
  let expectedMd5: string | undefined;
  let expectedBlake3: string | undefined;
  if (completing !== undefined) {
    expectedMd5 = completing.md5;
  } else {
    // Asked again on every attempt, never reused from the table: ESA has published wrong MD5s that it
    // corrected later, and a retry after a mismatch must compare against the corrected one.
    const alone =
      deps.archiveCheck === true && deps.verifyWithoutChecksum === true && sizeToleranceBytes === 0;
    expectedMd5 = await hub.getChecksum(granuleId, { signal: deps.signal }).catch((error: unknown) => {
      if (error instanceof ChecksumNotPublishedError && deps.signal?.aborted !== true) {
        // No MD5, but a BLAKE3 (CDSE lists only that for some products): it verifies the bytes instead.
        expectedBlake3 = error.blake3;
        // No MD5 yet: the zip check and the exact length may verify the product alone (a deploy setting).
        if (expectedBlake3 !== undefined || alone) return undefined;
      }
      throw interruptedIfAborted(error, granuleId, deps.signal);
    });
    if (expectedMd5 !== undefined) await store.recordChecksum(granuleId, owner, expectedMd5);
  }
  throwIfOutOfTime(granuleId, deps.signal);

  const key = completing !== undefined ? resume!.key : objectKeyFor(granule.name, deps.objectPrefix);
  deps.logger?.info("downloading granule", {
    granuleId,
    key,
    resumeFromBytes: resume?.key === key ? resume.bytes : 0,
    ...(completing !== undefined && { completing: true }),
  });
  const started = now();
  // Renewed at half-life from the checkpoints, so a long transfer never outlives its claim (LEASE_SECONDS
  // may be shorter than the Lambda timeout) while a crashed worker's claim still lapses soon.
  let leaseExpiresAt = granule.leaseExpiresAt ?? started;
  const halfLeaseMs = Math.max(leaseExpiresAt - started, 0) / 2;
  const checkpoint = async (progress: UploadProgress) => {
    await store.saveUploadProgress(granuleId, owner, progress);
    if (now() >= leaseExpiresAt - halfLeaseMs) {
      leaseExpiresAt = await store.renewLease(granuleId, owner);
      // The slot's lease is as long as the claim's: renewed with it. A slot lost meanwhile (its lease
      // ended) is not worth aborting a transfer already under way for; the quota overruns by one at most.
      if (slot !== undefined) await deps.slots?.renew(slot);
    }
  };
  const bounds =
    sizeToleranceBytes === undefined ? {} : { expectedSizeBytes: granule.sizeBytes, sizeToleranceBytes };
  const archive = deps.archiveCheck === true ? { archive: { safeFolder: safeFolderOf(granule.name) } } : {};
  let result: Awaited<ReturnType<typeof transferGranule>>;
  try {
    result = await transferGranule(
      {
        granuleId,
        bucket: deps.bucket,
        key,
        expectedMd5,
        ...(expectedBlake3 !== undefined && { expectedBlake3 }),
        hub,
        s3: deps.s3,
        resume,
        ...bounds,
        ...archive,
      },
      {
        partSizeBytes: deps.partSizeBytes,
        queueSize: deps.queueSize,
        minBytesPerSecond: deps.minBytesPerSecond,
        floorWindowMs: deps.floorWindowMs,
        signal: deps.signal,
        onProgress: checkpoint,
        beforeCreate: (uploadKey) => store.markUploadCreating(granuleId, owner, uploadKey),
        now,
      },
    );
  } catch (error) {
    // The transfer aborted that multipart upload: a retry must start a new one, not resume a dead id.
    // Best effort: should forgetting it fail, the transfer restarts on NoSuchUpload, and the mismatch
    // is the error Step Functions must see.
    // After UploadOutcomeUnknownError the completing record is kept: any later claim only re-issues
    // Complete (never downloads again) until an operator who checked the bucket requeues it by name.
    if (error instanceof ChecksumMismatchError || error instanceof ArchiveInvalidError) {
      await store.saveUploadProgress(granuleId, owner, null).catch(() => undefined);
    }
    throw error;
  }
  // A 412 on our conditional write: the key was written before (a lost answer, or another writer).
  // Delivered, never a failure; the record says so.
  const delivery =
    result.publication === "key-existed"
      ? {
          by: "earlier-write" as const,
          reason: `S3 answered 412 to If-None-Match: * on ${result.key}: the object existed before this write`,
        }
      : undefined;
  if (delivery !== undefined)
    deps.logger?.info("object written before: recorded as delivered", { granuleId, key });
  await store.markDownloaded(granuleId, owner, {
    s3Key: result.key,
    bytesWritten: result.bytes,
    ...(delivery !== undefined && { delivery }),
  });
  const verifiedAt = now();
  const latencySeconds = publicationLatencySeconds(granule.publishedAt, verifiedAt);
  return {
    granuleId,
    outcome: "downloaded",
    key: result.key,
    bytes: result.bytes,
    seconds: Math.round(verifiedAt - started) / 1000,
    resumedFromBytes: result.resumedFromBytes,
    attempts: granule.attempts,
    ...(latencySeconds !== undefined && { latencySeconds }),
  };
}

/** An abort (the attempt ran out of time) surfaces as the retryable TransferInterruptedError, whatever raised it. */
function interruptedIfAborted(error: unknown, granuleId: string, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted !== true || error instanceof TransferInterruptedError) return error;
  return new TransferInterruptedError(
    `download of ${granuleId} ran out of time before the transfer started`,
    {
      granuleId,
      bytesTransferred: 0,
      cause: error,
    },
  );
}

function throwIfOutOfTime(granuleId: string, signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw interruptedIfAborted(signal.reason, granuleId, signal);
}
