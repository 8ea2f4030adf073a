import type { S3Client } from "@aws-sdk/client-s3";
import { ChecksumMismatchError, InvalidInputError, TransferInterruptedError } from "./errors";
import { type GranuleError, type GranuleStatus, objectKeyFor, type UploadProgress } from "./granule";
import type { Hub } from "./hub/hub";
import type { GranuleStore } from "./store";
import { transferGranule } from "./transfer";

/** What a Download child reports: it downloaded the granule, or found nothing to do. */
export type DownloadOutcome = "downloaded" | "already-downloaded" | "leased-elsewhere";

export interface DownloadInput {
  granuleId: string;
  /** The lease owner: the child execution's id, stable across its retries. */
  owner: string;
}

/** Where a download reports progress; Powertools' Logger fits. */
export interface DownloadLogger {
  info(message: string, ...extra: Record<string, unknown>[]): void;
}

export interface DownloadDeps {
  store: Pick<
    GranuleStore,
    "claimGranule" | "recordChecksum" | "saveUploadProgress" | "renewLease" | "markDownloaded"
  >;
  hub: Hub;
  s3: S3Client;
  bucket: string;
  objectPrefix?: string;
  partSizeBytes?: number;
  queueSize?: number;
  /** Throughput floor of the body (bytes/s, 0: none) and its window; see TransferOptions. */
  minBytesPerSecond?: number;
  floorWindowMs?: number;
  /** Aborts the transfer (it checkpoints and raises TransferInterruptedError) before the Lambda times out. */
  signal?: AbortSignal;
  logger?: DownloadLogger;
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
}

/**
 * Downloads one granule: claims it, fetches the hub's MD5 afresh, streams the product into a verified
 * multipart upload (resuming a saved one) and marks it downloaded. A granule already downloaded or
 * leased by another worker is an outcome, not an error.
 * @throws GranuleNotFoundError, LeaseLostError from the store; ChecksumNotPublishedError,
 *   ChecksumMismatchError, GranuleGoneError, HubThrottledError, HubUnavailableError, HubAuthError,
 *   TransferInterruptedError (TransferTooSlowError), GranuleOfflineError, HubFramingError from the hub and
 *   the transfer — unchanged, their names drive Retry/Catch.
 */
export async function downloadGranule(input: DownloadInput, deps: DownloadDeps): Promise<DownloadResult> {
  if (input.granuleId === "") throw new InvalidInputError("granuleId is empty", { field: "granuleId" });
  if (input.owner === "") throw new InvalidInputError("owner is empty", { field: "owner" });
  if (deps.bucket === "") throw new InvalidInputError("bucket is empty", { field: "bucket" });
  // A raw AbortError/TimeoutError is in no Retry list: an attempt out of time must say "interrupted".
  throwIfOutOfTime(input.granuleId, deps.signal);
  const now = deps.now ?? Date.now;
  const { granuleId, owner } = input;
  const { store, hub } = deps;

  const claim = await store.claimGranule(granuleId, owner);
  if (claim.outcome === "already-downloaded") {
    return {
      granuleId,
      outcome: "already-downloaded",
      key: claim.granule.s3Key,
      bytes: claim.granule.bytesWritten,
    };
  }
  if (claim.outcome === "leased") return { granuleId, outcome: "leased-elsewhere" };
  const granule = claim.granule;

  // Asked again on every attempt, never reused from the table: ESA has published wrong MD5s that it
  // corrected later, and a retry after a mismatch must compare against the corrected one.
  const expectedMd5 = await hub.getChecksum(granuleId, { signal: deps.signal }).catch((error: unknown) => {
    throw interruptedIfAborted(error, granuleId, deps.signal);
  });
  await store.recordChecksum(granuleId, owner, expectedMd5);
  throwIfOutOfTime(granuleId, deps.signal);

  const key = objectKeyFor(granule.name, deps.objectPrefix);
  // A saved upload for another key (the prefix changed between attempts) cannot be continued.
  const resume = granule.upload?.key === key ? granule.upload : undefined;
  deps.logger?.info("downloading granule", { granuleId, key, resumeFromBytes: resume?.bytes ?? 0 });
  const started = now();
  // Renewed at half-life from the checkpoints, so a long transfer never outlives its claim (LEASE_SECONDS
  // may be shorter than the Lambda timeout) while a crashed worker's claim still lapses soon.
  let leaseExpiresAt = granule.leaseExpiresAt ?? started;
  const halfLeaseMs = Math.max(leaseExpiresAt - started, 0) / 2;
  const checkpoint = async (progress: UploadProgress) => {
    await store.saveUploadProgress(granuleId, owner, progress);
    if (now() >= leaseExpiresAt - halfLeaseMs) leaseExpiresAt = await store.renewLease(granuleId, owner);
  };
  // The catalogue's size bounds the body (framing lies), when the hub says how far to trust it.
  const sizeToleranceBytes = hub.sizeToleranceBytes?.(granule.sizeBytes);
  const bounds =
    sizeToleranceBytes === undefined ? {} : { expectedSizeBytes: granule.sizeBytes, sizeToleranceBytes };
  let result: Awaited<ReturnType<typeof transferGranule>>;
  try {
    result = await transferGranule(
      { granuleId, bucket: deps.bucket, key, expectedMd5, hub, s3: deps.s3, resume, ...bounds },
      {
        partSizeBytes: deps.partSizeBytes,
        queueSize: deps.queueSize,
        minBytesPerSecond: deps.minBytesPerSecond,
        floorWindowMs: deps.floorWindowMs,
        signal: deps.signal,
        onProgress: checkpoint,
      },
    );
  } catch (error) {
    // The transfer aborted that multipart upload: a retry must start a new one, not resume a dead id.
    // Best effort: should forgetting it fail, the transfer restarts on NoSuchUpload, and the mismatch
    // is the error Step Functions must see.
    if (error instanceof ChecksumMismatchError) {
      await store.saveUploadProgress(granuleId, owner, null).catch(() => undefined);
    }
    throw error;
  }
  await store.markDownloaded(granuleId, owner, { s3Key: result.key, bytesWritten: result.bytes });
  return {
    granuleId,
    outcome: "downloaded",
    key: result.key,
    bytes: result.bytes,
    seconds: Math.round(now() - started) / 1000,
    resumedFromBytes: result.resumedFromBytes,
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

/** Step Functions' error object as a Catch hands it over. */
export interface StepFunctionsError {
  Error: string;
  /** A JSON string `{errorType, errorMessage, trace}` for Lambda errors, plain text otherwise. */
  Cause?: string;
}

export interface RecordFailureInput {
  granuleId: string;
  owner: string;
  error: StepFunctionsError;
}

export interface RecordFailureResult {
  granuleId: string;
  /** FAILED, or DOWNLOADED when a late failure report met a granule another attempt finished. */
  status: GranuleStatus;
  error: GranuleError;
  attempts: number;
}

/** The name and message of a Step Functions error: the name is `Error`, the message Lambda's `errorMessage`. */
export function describeStepFunctionsError(error: StepFunctionsError): GranuleError {
  const cause = error.Cause ?? "";
  let message = cause;
  try {
    const parsed: unknown = JSON.parse(cause);
    if (typeof parsed === "object" && parsed !== null && "errorMessage" in parsed) {
      message = String((parsed as { errorMessage: unknown }).errorMessage);
    }
  } catch {
    // Not JSON: States.Timeout and other service errors carry plain text, kept as it is.
  }
  return { name: error.Error, message };
}

/**
 * Marks a granule FAILED with the name and message of the error that ended its child execution.
 * @throws InvalidInputError on an empty granule id or error name; GranuleNotFoundError, LeaseLostError
 *   (another worker holds a live lease) from the store.
 */
export async function recordFailure(
  input: RecordFailureInput,
  deps: { store: Pick<GranuleStore, "markFailed"> },
): Promise<RecordFailureResult> {
  if (input.granuleId === "") throw new InvalidInputError("granuleId is empty", { field: "granuleId" });
  if (input.error.Error === "") throw new InvalidInputError("error.Error is empty", { field: "error.Error" });
  const error = describeStepFunctionsError(input.error);
  const record = await deps.store.markFailed(input.granuleId, error, { owner: input.owner });
  // The store truncates long messages: report what it kept.
  return {
    granuleId: input.granuleId,
    status: record.status,
    error: record.lastError ?? error,
    attempts: record.attempts,
  };
}
