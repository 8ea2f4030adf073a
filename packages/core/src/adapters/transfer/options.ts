import type { S3Client } from "@aws-sdk/client-s3";
import { InvalidInputError } from "../../domain/errors";
import type { UploadProgress } from "../../domain/granule";
import type { Hub } from "../hub/hub";
import type { Publication } from "./multipart-upload";

const MIB = 1024 * 1024;
/** S3 refuses parts below 5 MiB (except the last one). */
export const MIN_PART_SIZE_BYTES = 5 * MIB;
/** S3's largest part. */
export const MAX_PART_SIZE_BYTES = 5 * 1024 * MIB;
export const DEFAULT_PART_SIZE_BYTES = 16 * MIB;
export const DEFAULT_QUEUE_SIZE = 4;
export const MAX_QUEUE_SIZE = 16;
export const DEFAULT_MAX_RESUMES = 5;
/** Throughput floor of a download body: below 64 KiB/s over a 60 s window the body is cut and resumed. */
export const DEFAULT_MIN_BYTES_PER_SECOND = 64 * 1024;
export const DEFAULT_FLOOR_WINDOW_MS = 60_000;
/**
 * The youngest upload a lifecycle rule can have aborted. S3's AbortIncompleteMultipartUpload
 * "specifies the days since the initiation of an incomplete multipart upload that Amazon S3 will wait
 * before permanently removing all parts of the upload" (DaysAfterInitiation; HLS's bucket uses 1).
 */
export const DEFAULT_LIFECYCLE_ABORT_AFTER_MS = 24 * 60 * 60 * 1000;
const MD5_HEX = /^[0-9a-f]{32}$/i;

/**
 * The PUT-class requests that write one product to S3: a product that fits in one part is one
 * PutObject; a larger one is CreateMultipartUpload, its parts and CompleteMultipartUpload (first attempt,
 * no resume). The transfer decides the same way: nothing dispatched when the body ends means one part.
 */
export function objectWriteRequests(sizeBytes: number, partSizeBytes: number): number {
  return sizeBytes <= partSizeBytes ? 1 : Math.ceil(sizeBytes / partSizeBytes) + 2;
}

export interface TransferInput {
  granuleId: string;
  bucket: string;
  /** Object key, already computed by objectKeyFor(). */
  key: string;
  /**
   * The hub's MD5 of the product, hex (any case). Undefined only with `archive` and an exact
   * `expectedSizeBytes`: the zip check and the length then verify the product alone.
   */
  expectedMd5: string | undefined;
  /** The hub's BLAKE3 of the product, hex, when it published that and no MD5 (CDSE): checked like the MD5. */
  expectedBlake3?: string;
  /** Check the product's zip archive while it streams; `safeFolder`: its one top-level folder (`<name>.SAFE`). */
  archive?: { safeFolder?: string };
  hub: Pick<Hub, "openDownload">;
  s3: S3Client;
  /** Saved progress of an earlier attempt: continue its multipart upload instead of starting over. */
  resume?: UploadProgress;
  /**
   * The product's size as the catalogue gave it. Bounds the body: a Content-Length or Content-Range
   * that contradicts it, or bytes past it, are a framing lie (see HubFramingError).
   */
  expectedSizeBytes?: number;
  /** How far the catalogue size may be off (DHuS prints "660.95 MB"); default 0, exact (CDSE). */
  sizeToleranceBytes?: number;
}

export interface TransferOptions {
  /** Bytes per multipart part; default 16 MiB, at least 5 MiB (S3's minimum). */
  partSizeBytes?: number;
  /** Parts uploading concurrently, 1..16, default 4. */
  queueSize?: number;
  /** Range resumes (and clean restarts) within this call after a broken body, default 5. */
  maxResumes?: number;
  /** Aborting stops cleanly: progress is checkpointed, TransferInterruptedError thrown, the upload kept. */
  signal?: AbortSignal;
  /** Called (serially) whenever completed parts extend the resumable prefix; the caller persists it. */
  onProgress?: (progress: UploadProgress) => Promise<void>;
  /**
   * Called just before CreateMultipartUpload on `key`, so the caller can note that an upload is about to
   * exist before S3 names it (its id is then recorded by onProgress); a failure stops the transfer.
   */
  beforeCreate?: (key: string) => Promise<void>;
  /** Extra object metadata; `hub-id` and `md5` are always set by the transfer. */
  metadata?: Record<string, string>;
  /** Age from which an upload S3 no longer knows may have been aborted by a lifecycle rule; default 1 day. */
  lifecycleAbortAfterMs?: number;
  /** Clock for upload ages, epoch milliseconds; default Date.now. */
  now?: () => number;
  /**
   * Throughput floor in bytes/s (default 64 KiB/s; 0: none). A body that delivers less over a whole
   * window of waiting on the hub is cut and resumed by Range, like a broken one.
   */
  minBytesPerSecond?: number;
  /** The floor's window in ms of time spent waiting on the hub (not on S3); default 60000. */
  floorWindowMs?: number;
}

export interface TransferResult {
  key: string;
  bytes: number;
  /** Lowercase hex MD5 of the object's bytes, equal to the hub's. */
  md5: string;
  etag?: string;
  /** Bytes taken over from `input.resume` (0 when there was none or it could not be used). */
  resumedFromBytes: number;
  /** Bytes read from the hub in this call. */
  fetchedBytes: number;
  /** Times this call started over from byte 0 on a new upload (hub ignored Range, upload vanished). */
  restarts: number;
  /** Times this call re-opened a broken body with a Range request. */
  resumes: number;
  /**
   * How the object came to be (see Publication): `now` by this call; `earlier-complete` when S3 answered
   * NoSuchUpload to the Complete of an upload already verified and recorded as completing; `key-existed`
   * when S3 answered 412 to our `If-None-Match: *` (the key was written before; our upload was aborted).
   */
  publication: Publication;
}

/** The options of one transfer with every default filled in and every value checked. */
export interface ResolvedTransferOptions {
  partSizeBytes: number;
  queueSize: number;
  maxResumes: number;
  minBytesPerSecond: number;
  floorWindowMs: number;
  signal?: AbortSignal;
  onProgress?: (progress: UploadProgress) => Promise<void>;
  beforeCreate?: (key: string) => Promise<void>;
  metadata: Record<string, string>;
  lifecycleAbortAfterMs: number;
  now: () => number;
}

/**
 * Fills the defaults of `options` and rejects a bad option or input before anything is fetched.
 * @throws InvalidInputError naming the field.
 */
export function resolveTransferOptions(
  input: TransferInput,
  options: TransferOptions,
): ResolvedTransferOptions {
  let { partSizeBytes, queueSize, maxResumes, minBytesPerSecond, floorWindowMs } = options;
  partSizeBytes ??= DEFAULT_PART_SIZE_BYTES;
  queueSize ??= DEFAULT_QUEUE_SIZE;
  maxResumes ??= DEFAULT_MAX_RESUMES;
  minBytesPerSecond ??= DEFAULT_MIN_BYTES_PER_SECOND;
  floorWindowMs ??= DEFAULT_FLOOR_WINDOW_MS;
  if (!Number.isFinite(minBytesPerSecond) || minBytesPerSecond < 0) {
    throw new InvalidInputError(`minBytesPerSecond must be a number ≥ 0, got ${minBytesPerSecond}`, {
      field: "minBytesPerSecond",
    });
  }
  if (!Number.isFinite(floorWindowMs) || floorWindowMs <= 0) {
    throw new InvalidInputError(`floorWindowMs must be a positive number, got ${floorWindowMs}`, {
      field: "floorWindowMs",
    });
  }
  for (const field of ["expectedSizeBytes", "sizeToleranceBytes"] as const) {
    const value = input[field];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw new InvalidInputError(`${field} must be a non-negative integer, got ${value}`, { field });
    }
  }
  if (
    !Number.isInteger(partSizeBytes) ||
    partSizeBytes < MIN_PART_SIZE_BYTES ||
    partSizeBytes > MAX_PART_SIZE_BYTES
  ) {
    throw new InvalidInputError(
      `partSizeBytes must be an integer from ${MIN_PART_SIZE_BYTES} (5 MiB, S3's minimum part) to ${MAX_PART_SIZE_BYTES}, got ${partSizeBytes}`,
      { field: "partSizeBytes" },
    );
  }
  if (!Number.isInteger(queueSize) || queueSize < 1 || queueSize > MAX_QUEUE_SIZE) {
    throw new InvalidInputError(
      `queueSize must be an integer from 1 to ${MAX_QUEUE_SIZE}, got ${queueSize}`,
      {
        field: "queueSize",
      },
    );
  }
  if (!Number.isInteger(maxResumes) || maxResumes < 0) {
    throw new InvalidInputError(`maxResumes must be a non-negative integer, got ${maxResumes}`, {
      field: "maxResumes",
    });
  }
  if (input.expectedBlake3 !== undefined && !/^[0-9a-f]{64}$/i.test(input.expectedBlake3)) {
    throw new InvalidInputError(`expectedBlake3 must be 64 hex digits, got "${input.expectedBlake3}"`, {
      field: "expectedBlake3",
    });
  }
  if (input.expectedMd5 === undefined && input.expectedBlake3 === undefined) {
    if (
      input.archive === undefined ||
      input.expectedSizeBytes === undefined ||
      (input.sizeToleranceBytes ?? 0) !== 0
    ) {
      throw new InvalidInputError(
        "expectedMd5 may be absent only with expectedBlake3, or an archive check and an exact expectedSizeBytes",
        {
          field: "expectedMd5",
        },
      );
    }
  } else if (input.expectedMd5 !== undefined && !MD5_HEX.test(input.expectedMd5)) {
    throw new InvalidInputError(`expectedMd5 must be 32 hex digits, got "${input.expectedMd5}"`, {
      field: "expectedMd5",
    });
  }
  for (const field of ["granuleId", "bucket", "key"] as const) {
    if (input[field] === "") throw new InvalidInputError(`${field} must not be empty`, { field });
  }
  return {
    partSizeBytes,
    queueSize,
    maxResumes,
    minBytesPerSecond,
    floorWindowMs,
    signal: options.signal,
    onProgress: options.onProgress,
    beforeCreate: options.beforeCreate,
    metadata: options.metadata ?? {},
    lifecycleAbortAfterMs: options.lifecycleAbortAfterMs ?? DEFAULT_LIFECYCLE_ABORT_AFTER_MS,
    now: options.now ?? Date.now,
  };
}
