import { createHash } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { createMD5, type IHasher } from "hash-wasm";
import {
  ChecksumMismatchError,
  DownloaderError,
  HubFramingError,
  InvalidHubDataError,
  InvalidInputError,
  TransferInterruptedError,
  TransferTooSlowError,
  UploadOutcomeUnknownError,
} from "../../domain/errors";
import type { UploadProgress } from "../../domain/granule";
import type { DownloadStream, Hub } from "../hub/hub";

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
const MAX_PARTS = 10_000;
/**
 * The youngest upload a lifecycle rule can have aborted. S3's AbortIncompleteMultipartUpload
 * "specifies the days since the initiation of an incomplete multipart upload that Amazon S3 will wait
 * before permanently removing all parts of the upload" (DaysAfterInitiation; HLS's bucket uses 1).
 */
export const DEFAULT_LIFECYCLE_ABORT_AFTER_MS = 24 * 60 * 60 * 1000;
const MD5_HEX = /^[0-9a-f]{32}$/i;

export interface TransferInput {
  granuleId: string;
  bucket: string;
  /** Object key, already computed by objectKeyFor(). */
  key: string;
  /** The hub's MD5 of the product, hex (any case). */
  expectedMd5: string;
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
   * True when S3 answered NoSuchUpload to the Complete of an upload already verified and recorded as
   * completing: an earlier Complete (an SDK retry, a crashed attempt) created the object.
   */
  completedEarlier: boolean;
}

/**
 * Streams a product from the hub into an S3 multipart upload, verifying its MD5 before the object becomes visible.
 * @throws ChecksumMismatchError when the streamed bytes differ from `expectedMd5` (the upload is aborted).
 * @throws TransferInterruptedError when the signal aborts, the body keeps breaking or S3 fails transiently (the upload is kept for `resume`);
 *   TransferTooSlowError (a subclass) when the last cuts were for a body under the throughput floor.
 * @throws HubFramingError when the body's framing lies twice (Content-Length vs body vs catalogue size; the upload is aborted).
 * @throws InvalidInputError for a bad option or input; the hub's own errors (GranuleGoneError, HubAuthError, …) pass through.
 */
export async function transferGranule(
  input: TransferInput,
  options: TransferOptions = {},
): Promise<TransferResult> {
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
  if (!MD5_HEX.test(input.expectedMd5)) {
    throw new InvalidInputError(`expectedMd5 must be 32 hex digits, got "${input.expectedMd5}"`, {
      field: "expectedMd5",
    });
  }
  for (const field of ["granuleId", "bucket", "key"] as const) {
    if (input[field] === "") throw new InvalidInputError(`${field} must not be empty`, { field });
  }
  if (options.signal?.aborted) {
    throw new TransferInterruptedError(`transfer of ${input.granuleId} was aborted before it started`, {
      cause: options.signal.reason,
      granuleId: input.granuleId,
      bytesTransferred: input.resume?.bytes ?? 0,
    });
  }

  const transfer = new MultipartTransfer(input, {
    partSizeBytes,
    queueSize,
    maxResumes,
    minBytesPerSecond,
    floorWindowMs,
    signal: options.signal,
    onProgress: options.onProgress,
    metadata: options.metadata ?? {},
    lifecycleAbortAfterMs: options.lifecycleAbortAfterMs ?? DEFAULT_LIFECYCLE_ABORT_AFTER_MS,
    now: options.now ?? Date.now,
  });
  try {
    return await transfer.run();
  } catch (error) {
    throw await transfer.fail(error);
  }
}

/** Raised internally when a download body errors, closes early or ends short; never escapes transferGranule. */
class BodyBrokenError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BodyBrokenError";
  }
}

/**
 * Raised internally when the body cannot be appended to what we hold (a Content-Range starting
 * elsewhere than asked): the attempt starts over on a new upload. Never escapes transferGranule.
 */
class RestartNeededError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RestartNeededError";
  }
}

/** Raised internally when a body's framing contradicts itself or the catalogue; see HubFramingError. */
class FramingMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FramingMismatchError";
  }
}

interface ResolvedOptions {
  partSizeBytes: number;
  queueSize: number;
  maxResumes: number;
  minBytesPerSecond: number;
  floorWindowMs: number;
  signal?: AbortSignal;
  onProgress?: (progress: UploadProgress) => Promise<void>;
  metadata: Record<string, string>;
  lifecycleAbortAfterMs: number;
  now: () => number;
}

/** Hash state and byte count after a dispatched part: what a checkpoint ending at that part resumes from. */
interface PartBoundary {
  bytes: number;
  hashState: string;
}

/**
 * One transfer's state. Invariant that makes resume safe: the MD5 is fed each part when it is
 * dispatched, in part order, so the hash state saved after part n covers exactly the bytes of
 * parts 1..n, whatever order the part uploads finish in; a checkpoint only ever names a
 * contiguous prefix of completed parts together with that part's saved state.
 */
class MultipartTransfer {
  private readonly expectedMd5: string;
  private hasher!: IHasher;
  private uploadId = "";
  private uploadOpen = false;
  /** When the current upload was created (epoch ms); undefined for a legacy checkpoint without it. */
  private createdAt: number | undefined;
  /** Set once the completing checkpoint is written: from then on the upload is never aborted. */
  private completing = false;
  private readonly completed = new Map<number, string>();
  private readonly boundaries = new Map<number, PartBoundary>();
  private contiguousParts = 0;
  private nextPartNumber = 1;
  private finalPartNumber: number | undefined;
  private dispatchedBytes = 0;
  private pending: Buffer | undefined;
  private pendingLength = 0;
  /**
   * Part buffers whose upload succeeded, reused for later parts: a fresh 16 MiB buffer per part costs
   * page faults and leaves garbage whose collection timing made peak RSS grow with the product size.
   */
  private readonly spareBuffers: Buffer[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private partFailure: { error: unknown } | undefined;
  private partsController = new AbortController();
  private checkpoint: UploadProgress | undefined;
  private persisted: UploadProgress | undefined;
  private progressChain: Promise<void> = Promise.resolve();
  private progressFailure: { error: unknown } | undefined;
  private fetchedBytes = 0;
  private resumedFromBytes = 0;
  private restarts = 0;
  private resumes = 0;

  constructor(
    private readonly input: TransferInput,
    private readonly options: ResolvedOptions,
  ) {
    this.expectedMd5 = input.expectedMd5.toLowerCase();
  }

  async run(): Promise<TransferResult> {
    const { resume } = this.input;
    // A verified upload whose Complete may already have happened: finishing it is all that is left,
    // and downloading again could create a second object (a second HLS processing run).
    if (resume?.completing !== undefined && resume.uploadId !== "") return this.completeRecorded(resume);
    this.hasher = await createMD5();
    await this.begin();
    let recoveriesLeft = this.options.maxResumes;
    // A framing lie is retried once from a clean state: a proxy may have garbled one answer, but a
    // hub that lies twice would lie on every fetch (each a whole product), so the third is refused.
    let framingRetriesLeft = 1;
    for (;;) {
      try {
        this.options.signal?.throwIfAborted();
        const download = await this.open();
        await this.consume(download);
        return await this.finish();
      } catch (error) {
        if (error instanceof FramingMismatchError && !this.options.signal?.aborted) {
          if (framingRetriesLeft === 0) {
            throw new HubFramingError(this.input.granuleId, `${error.message}, again after a clean retry`);
          }
          framingRetriesLeft -= 1;
          await this.restartClean();
          continue;
        }
        const noSuchUpload = isNoSuchUpload(error);
        const restart = error instanceof RestartNeededError;
        if (this.options.signal?.aborted || !(error instanceof BodyBrokenError || noSuchUpload || restart))
          throw error;
        if (recoveriesLeft === 0) {
          // Out of recoveries on a restart: say it as an interruption (retryable), never as the internal error.
          if (restart) throw new BodyBrokenError(error.message, { cause: error });
          throw error;
        }
        recoveriesLeft -= 1;
        if (noSuchUpload) {
          // The upload was aborted behind our back (lifecycle rule, operator): its parts are gone.
          this.uploadOpen = false;
          await this.restartClean();
        } else if (restart) {
          await this.restartClean();
        } else {
          this.resumes += 1;
        }
      }
    }
  }

  /** Turns whatever stopped the transfer into the error to throw, aborting or keeping the upload. */
  async fail(error: unknown): Promise<unknown> {
    if (error instanceof ChecksumMismatchError || error instanceof UploadOutcomeUnknownError) {
      // No onProgress call may outlive the transfer (it would write progress after the caller moved on).
      await this.progressChain;
      return error;
    }
    const { signal, maxResumes } = this.options;
    const { granuleId, key } = this.input;
    const fromProgress = this.progressFailure !== undefined && this.progressFailure.error === error;
    if (
      !this.completing &&
      !signal?.aborted &&
      !fromProgress &&
      error instanceof DownloaderError &&
      !error.retryable
    ) {
      // The hub says these bytes will never be right (gone, refused, invalid): drop the parts.
      this.partsController.abort();
      await this.settleParts();
      const abortError = await this.abortUpload();
      if (abortError !== undefined) {
        console.warn(
          JSON.stringify({ msg: "abort of multipart upload failed", granuleId, key, error: `${abortError}` }),
        );
      }
      await this.progressChain;
      return error;
    }
    // Keep the upload: let running parts land so the checkpoint covers them, then persist it.
    await this.settleParts();
    await this.progressChain;
    const resumable = { granuleId, bytesTransferred: this.checkpoint?.bytes ?? this.resumedFromBytes };
    if (signal?.aborted) {
      return new TransferInterruptedError(
        `transfer of ${granuleId} to ${key} stopped by its signal; resumable from byte ${resumable.bytesTransferred}`,
        { cause: signal.reason, ...resumable },
      );
    }
    if (error instanceof BodyBrokenError && error.cause instanceof TransferTooSlowError) {
      return new TransferTooSlowError(
        `transfer of ${granuleId} to ${key} stayed under the throughput floor after ${maxResumes} resumes; resumable from byte ${resumable.bytesTransferred}`,
        { cause: error.cause, bytesPerSecond: error.cause.bytesPerSecond, ...resumable },
      );
    }
    if (error instanceof BodyBrokenError || isNoSuchUpload(error)) {
      return new TransferInterruptedError(
        `transfer of ${granuleId} to ${key} failed after ${maxResumes} resumes; resumable from byte ${resumable.bytesTransferred}`,
        { cause: error instanceof BodyBrokenError ? (error.cause ?? error) : error, ...resumable },
      );
    }
    return error;
  }

  private get consumedBytes(): number {
    return this.dispatchedBytes + this.pendingLength;
  }

  /** Adopts the saved upload when it is usable, else starts a new one. */
  private async begin(): Promise<void> {
    const { resume } = this.input;
    if (resume !== undefined && this.adopt(resume)) return;
    if (resume !== undefined && resume.uploadId !== "") {
      // An unusable checkpoint's upload is dead weight; S3 bills its parts until aborted.
      await this.abortUpload(resume.key, resume.uploadId);
    }
    await this.createUpload();
  }

  /**
   * Continues a recorded upload from its last checkpointed part (a 0-byte checkpoint: from byte 0 of
   * the same upload). Parts a dead attempt sent after its checkpoint are simply sent again: the S3 API
   * reference on UploadPart, "If you upload a new part using the same part number that was used with a
   * previous part, the previously uploaded part is overwritten."
   */
  private adopt(resume: UploadProgress): boolean {
    const contiguous = resume.parts.every((part, index) => part.PartNumber === index + 1 && part.ETag !== "");
    if (resume.key !== this.input.key || !contiguous || resume.uploadId === "") return false;
    // The sweeper claimed it for abort (its granule had ended): aborting it again is ours to do.
    if (resume.abandonedAt !== undefined) return false;
    if (resume.parts.length === 0 ? resume.bytes !== 0 : resume.bytes <= 0) return false;
    try {
      this.hasher.load(Buffer.from(resume.hashState, "base64"));
    } catch {
      this.hasher.init();
      return false;
    }
    this.uploadId = resume.uploadId;
    this.uploadOpen = true;
    this.createdAt = resume.createdAt;
    for (const part of resume.parts) this.completed.set(part.PartNumber, part.ETag);
    this.contiguousParts = resume.parts.length;
    this.nextPartNumber = resume.parts.length + 1;
    this.dispatchedBytes = resume.bytes;
    this.resumedFromBytes = resume.bytes;
    this.checkpoint = resume;
    this.persisted = resume;
    return true;
  }

  private async createUpload(): Promise<void> {
    const { bucket, key, granuleId, s3 } = this.input;
    const created = await callS3(`create multipart upload of ${key}`, () =>
      s3.send(
        new CreateMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          ContentType: "application/zip",
          Metadata: { ...this.options.metadata, "hub-id": granuleId, md5: this.expectedMd5 },
        }),
        { abortSignal: this.options.signal },
      ),
    );
    if (created.UploadId === undefined) {
      throw new TransferInterruptedError(`S3 returned no upload id for ${key}`, { granuleId });
    }
    this.uploadId = created.UploadId;
    this.uploadOpen = true;
    this.createdAt = this.options.now();
    await this.checkpointNewUpload();
  }

  /**
   * Records the new upload before its first part is sent, so every upload we create is known to the
   * table: a crash from here on leaves an upload the next attempt resumes (or aborts), never an orphan.
   */
  private async checkpointNewUpload(): Promise<void> {
    const { onProgress } = this.options;
    const checkpoint: UploadProgress = {
      uploadId: this.uploadId,
      key: this.input.key,
      parts: [],
      bytes: 0,
      hashState: Buffer.from(this.hasher.save()).toString("base64"),
      ...(this.createdAt !== undefined && { createdAt: this.createdAt }),
    };
    this.checkpoint = checkpoint;
    if (onProgress === undefined) return;
    // An earlier upload's checkpoint still being written must not land after this one.
    await this.progressChain;
    try {
      await onProgress(checkpoint);
      this.persisted = checkpoint;
    } catch (error) {
      // Nobody else knows this upload (the lease may be gone): abort it rather than leak it.
      this.progressFailure = { error };
      await this.abortUpload();
      throw error;
    }
  }

  /** Best-effort abort; returns the failure (s3rver answers 405) so the caller keeps its own error. */
  private async abortUpload(key = this.input.key, uploadId = this.uploadId): Promise<unknown> {
    if (uploadId === this.uploadId) this.uploadOpen = false;
    try {
      await this.input.s3.send(
        new AbortMultipartUploadCommand({ Bucket: this.input.bucket, Key: key, UploadId: uploadId }),
      );
      return undefined;
    } catch (error) {
      return error;
    }
  }

  /** Drops every part and the hash and begins again from byte 0 on a new upload. */
  private async restartClean(): Promise<void> {
    this.partsController.abort();
    await this.settleParts();
    if (this.uploadOpen) await this.abortUpload();
    this.partsController = new AbortController();
    this.partFailure = undefined;
    this.completed.clear();
    this.boundaries.clear();
    this.contiguousParts = 0;
    this.nextPartNumber = 1;
    this.finalPartNumber = undefined;
    this.dispatchedBytes = 0;
    this.pending = undefined;
    this.pendingLength = 0;
    this.checkpoint = undefined;
    this.resumedFromBytes = 0;
    this.hasher.init();
    this.restarts += 1;
    await this.createUpload();
  }

  /**
   * Opens the body where the consumed bytes end and checks its framing against the catalogue size.
   * A hub that ignored Range forces a clean restart onto this body; one whose Content-Range starts
   * elsewhere than asked forces a clean restart and a new request (RestartNeededError).
   */
  private async open(): Promise<DownloadStream> {
    const offset = this.consumedBytes;
    const { granuleId, expectedSizeBytes } = this.input;
    const tolerance = this.input.sizeToleranceBytes ?? 0;
    if (expectedSizeBytes !== undefined && offset > 0 && offset >= expectedSizeBytes + tolerance) {
      // Every byte the catalogue promised is here and the body still broke: asking for a Range at or
      // past the product's end only earns a 416. The framing lied (Content-Length over-long).
      throw new FramingMismatchError(
        `body of ${granuleId} broke after all ${offset} bytes of its ${expectedSizeBytes}-byte product had arrived`,
      );
    }
    const download = await this.input.hub.openDownload(granuleId, { offset, signal: this.options.signal });
    try {
      if (download.offset !== offset && download.offset !== 0) {
        throw new RestartNeededError(
          `hub answered a download of ${granuleId} from byte ${offset} with a body from byte ${download.offset}`,
        );
      }
      this.checkFraming(download, download.offset);
      // The body repeats bytes the parts and the hash already hold: keeping either would corrupt both.
      if (download.offset !== offset) await this.restartClean();
      return download;
    } catch (error) {
      download.body.destroy();
      throw error;
    }
  }

  /** Content-Length and Content-Range's complete length must agree with the catalogue's size. */
  private checkFraming(download: DownloadStream, start: number): void {
    const { granuleId, expectedSizeBytes } = this.input;
    if (expectedSizeBytes === undefined) return;
    const tolerance = this.input.sizeToleranceBytes ?? 0;
    const { contentLength, totalLength } = download;
    if (contentLength !== undefined && Math.abs(start + contentLength - expectedSizeBytes) > tolerance) {
      throw new FramingMismatchError(
        `hub framed bytes ${start}.. of ${granuleId} with Content-Length ${contentLength}, ending at ${start + contentLength} where the catalogue's ${expectedSizeBytes}-byte product ends`,
      );
    }
    if (totalLength !== undefined && Math.abs(totalLength - expectedSizeBytes) > tolerance) {
      throw new FramingMismatchError(
        `hub's Content-Range names ${totalLength} bytes for ${granuleId}, the catalogue ${expectedSizeBytes}`,
      );
    }
  }

  /** Reads one body into parts; the async iterator only pulls while write() is not waiting for a slot (backpressure). */
  private async consume(download: DownloadStream): Promise<void> {
    const { body, contentLength } = download;
    const { signal } = this.options;
    const stop = () => body.destroy(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
    signal?.addEventListener("abort", stop, { once: true });
    let received = 0;
    const { granuleId, expectedSizeBytes } = this.input;
    const limit =
      expectedSizeBytes === undefined ? undefined : expectedSizeBytes + (this.input.sizeToleranceBytes ?? 0);
    const floor = this.floorWatch(body);
    try {
      signal?.throwIfAborted();
      const chunks = body[Symbol.asyncIterator]();
      for (;;) {
        let next: IteratorResult<unknown>;
        floor.waiting();
        try {
          next = await chunks.next();
        } catch (error) {
          throw new BodyBrokenError(`body of ${granuleId} broke after ${received} bytes`, {
            cause: floor.slow ?? error,
          });
        } finally {
          floor.arrived();
        }
        if (next.done) break;
        const chunk = next.value;
        if (!(chunk instanceof Uint8Array)) {
          throw new InvalidHubDataError(`download body of ${granuleId} yields non-binary chunks`, {
            granuleId,
          });
        }
        received += chunk.length;
        this.fetchedBytes += chunk.length;
        if (contentLength !== undefined && received > contentLength) {
          throw new FramingMismatchError(
            `body of ${granuleId} ran past its Content-Length of ${contentLength} bytes`,
          );
        }
        if (limit !== undefined && this.consumedBytes + chunk.length > limit) {
          // Trailing garbage (or a body that never ends): never upload a byte the product cannot have.
          throw new FramingMismatchError(
            `body of ${granuleId} ran past the catalogue's ${expectedSizeBytes}-byte product`,
          );
        }
        floor.count(chunk.length);
        if (floor.slow !== undefined) {
          throw new BodyBrokenError(`body of ${granuleId} is under the throughput floor`, {
            cause: floor.slow,
          });
        }
        await this.write(chunk);
      }
    } finally {
      floor.stop();
      signal?.removeEventListener("abort", stop);
      body.destroy();
    }
    if (contentLength !== undefined && received < contentLength) {
      throw new BodyBrokenError(`body of ${granuleId} ended after ${received} of ${contentLength} bytes`);
    }
    if (
      expectedSizeBytes !== undefined &&
      this.consumedBytes < expectedSizeBytes - (this.input.sizeToleranceBytes ?? 0)
    ) {
      // A body that ends cleanly short of the product: its framing (a chunked body, a short
      // Content-Length) hid the cut. Resume from here rather than hash a truncated product.
      throw new BodyBrokenError(
        `body of ${granuleId} ended at byte ${this.consumedBytes} of a ${expectedSizeBytes}-byte product`,
      );
    }
  }

  /**
   * Watches one body's throughput over windows of `floorWindowMs` spent waiting on the hub (time
   * spent waiting for a part slot is S3's, not the hub's, and is not counted). A window that ends
   * under the floor cuts the body; a timer catches a window that ends inside one long wait.
   */
  private floorWatch(body: DownloadStream["body"]) {
    const { minBytesPerSecond, floorWindowMs } = this.options;
    const granuleId = this.input.granuleId;
    const required = (minBytesPerSecond * floorWindowMs) / 1000;
    let waitedMs = 0;
    let bytes = 0;
    let since = 0;
    let timer: NodeJS.Timeout | undefined;
    const watch = {
      slow: undefined as TransferTooSlowError | undefined,
      judge(): void {
        if (bytes < required) {
          const bytesPerSecond = Math.round((bytes * 1000) / floorWindowMs);
          watch.slow = new TransferTooSlowError(
            `body of ${granuleId} delivered ${bytesPerSecond} B/s over ${floorWindowMs / 1000} s, under the floor of ${minBytesPerSecond} B/s`,
            { granuleId, bytesPerSecond },
          );
        }
        waitedMs = 0;
        bytes = 0;
      },
      waiting(): void {
        if (minBytesPerSecond === 0) return;
        since = performance.now();
        const schedule = (ms: number) => {
          timer = setTimeout(() => {
            // The window ended inside this wait: judge it, and start the next one from now.
            watch.judge();
            if (watch.slow !== undefined) body.destroy(watch.slow);
            else {
              since = performance.now();
              schedule(floorWindowMs);
            }
          }, ms);
        };
        schedule(Math.max(0, floorWindowMs - waitedMs));
      },
      arrived(): void {
        if (minBytesPerSecond === 0) return;
        clearTimeout(timer);
        timer = undefined;
        waitedMs += performance.now() - since;
      },
      count(length: number): void {
        if (minBytesPerSecond === 0) return;
        bytes += length;
        if (waitedMs >= floorWindowMs) watch.judge();
      },
      stop(): void {
        clearTimeout(timer);
      },
    };
    return watch;
  }

  private async write(chunk: Uint8Array): Promise<void> {
    const { partSizeBytes } = this.options;
    let position = 0;
    while (position < chunk.length) {
      // A full part waits for the next byte before it goes: only then is it known not to be the
      // last part, and the last part is never checkpointed (resuming at the very end would ask
      // the hub for an empty Range).
      if (this.pendingLength === partSizeBytes) await this.dispatch(false);
      this.pending ??= this.spareBuffers.pop() ?? Buffer.allocUnsafe(partSizeBytes);
      const length = Math.min(partSizeBytes - this.pendingLength, chunk.length - position);
      this.pending.set(chunk.subarray(position, position + length), this.pendingLength);
      this.pendingLength += length;
      position += length;
    }
  }

  /** Hashes the pending part and starts its upload once fewer than queueSize parts are in flight. */
  private async dispatch(final: boolean): Promise<void> {
    while (this.inFlight.size >= this.options.queueSize) await Promise.race(this.inFlight);
    this.throwIfFailed();
    const partNumber = this.nextPartNumber;
    if (partNumber > MAX_PARTS) {
      throw new InvalidInputError(
        `${this.input.key} needs more than ${MAX_PARTS} parts; raise partSizeBytes`,
        {
          field: "partSizeBytes",
        },
      );
    }
    const buffer = this.pending;
    const body = buffer === undefined ? Buffer.alloc(0) : buffer.subarray(0, this.pendingLength);
    this.pending = undefined;
    this.pendingLength = 0;
    this.nextPartNumber += 1;
    this.hasher.update(body);
    this.dispatchedBytes += body.length;
    if (final) {
      this.finalPartNumber = partNumber;
    } else {
      const hashState = Buffer.from(this.hasher.save()).toString("base64");
      this.boundaries.set(partNumber, { bytes: this.dispatchedBytes, hashState });
    }
    const uploadId = this.uploadId;
    const upload: Promise<void> = this.uploadPart(uploadId, partNumber, body)
      .then(
        (etag) => {
          // Only after success is S3 done with the bytes; a failed or aborted request may not be.
          if (buffer !== undefined && this.spareBuffers.length < this.options.queueSize) {
            this.spareBuffers.push(buffer);
          }
          this.partCompleted(uploadId, partNumber, etag);
        },
        (error: unknown) => {
          if (uploadId === this.uploadId) this.partFailure ??= { error };
        },
      )
      .finally(() => this.inFlight.delete(upload));
    this.inFlight.add(upload);
  }

  private async uploadPart(uploadId: string, partNumber: number, body: Buffer): Promise<string> {
    const { bucket, key, s3 } = this.input;
    // Not the caller's signal: a deadline stops the body, but parts already read are the progress the
    // next attempt resumes from, so they land (seconds, inside the deadline's margin) and get checkpointed.
    const abortSignal = this.partsController.signal;
    const uploaded = await callS3(`part ${partNumber} of ${key}`, () =>
      s3.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: body,
          ContentLength: body.length,
          // S3 rejects the part if it arrives different from what we hashed.
          ContentMD5: createHash("md5").update(body).digest("base64"),
        }),
        { abortSignal },
      ),
    );
    if (uploaded.ETag === undefined) {
      throw new TransferInterruptedError(`S3 returned no ETag for part ${partNumber} of ${key}`);
    }
    return uploaded.ETag;
  }

  private partCompleted(uploadId: string, partNumber: number, etag: string): void {
    if (uploadId !== this.uploadId) return;
    this.completed.set(partNumber, etag);
    const before = this.contiguousParts;
    while (
      this.completed.has(this.contiguousParts + 1) &&
      this.contiguousParts + 1 !== this.finalPartNumber
    ) {
      this.contiguousParts += 1;
    }
    const boundary = this.boundaries.get(this.contiguousParts);
    if (this.contiguousParts === before || boundary === undefined) return;
    for (const number of this.boundaries.keys()) {
      if (number < this.contiguousParts) this.boundaries.delete(number);
    }
    const parts = [];
    for (let number = 1; number <= this.contiguousParts; number += 1) {
      parts.push({ PartNumber: number, ETag: this.completed.get(number)! });
    }
    this.checkpoint = {
      uploadId,
      key: this.input.key,
      parts,
      bytes: boundary.bytes,
      hashState: boundary.hashState,
      ...(this.createdAt !== undefined && { createdAt: this.createdAt }),
    };
    this.scheduleProgress();
  }

  /** Persists the newest checkpoint; calls never overlap and stale checkpoints are skipped. */
  private scheduleProgress(): void {
    const { onProgress } = this.options;
    if (onProgress === undefined) return;
    this.progressChain = this.progressChain.then(async () => {
      const checkpoint = this.checkpoint;
      if (this.progressFailure !== undefined || checkpoint === undefined || checkpoint === this.persisted)
        return;
      try {
        await onProgress(checkpoint);
        this.persisted = checkpoint;
      } catch (error) {
        this.progressFailure = { error };
      }
    });
  }

  private throwIfFailed(): void {
    if (this.progressFailure !== undefined) throw this.progressFailure.error;
    if (this.partFailure !== undefined) throw this.partFailure.error;
  }

  private async settleParts(): Promise<void> {
    await Promise.all(this.inFlight);
  }

  /** Uploads the last part, then completes the upload only if the streamed MD5 is the hub's. */
  private async finish(): Promise<TransferResult> {
    const { granuleId, key } = this.input;
    // Only an empty product has nothing pending here: it still needs one (empty) part.
    if (this.pendingLength > 0 || this.nextPartNumber === 1) await this.dispatch(true);
    const md5 = this.hasher.digest("hex");
    if (md5 !== this.expectedMd5) {
      // Aborting before Complete is what keeps a bad object from ever becoming visible.
      this.partsController.abort();
      await this.settleParts();
      const abortError = await this.abortUpload();
      throw new ChecksumMismatchError(
        granuleId,
        this.expectedMd5,
        md5,
        abortError === undefined ? undefined : { cause: abortError },
      );
    }
    await this.settleParts();
    this.throwIfFailed();
    await this.progressChain;
    this.throwIfFailed();
    const parts = [...this.completed]
      .sort(([a], [b]) => a - b)
      .map(([PartNumber, ETag]) => ({ PartNumber, ETag }));
    const completing: UploadProgress = {
      uploadId: this.uploadId,
      key,
      parts,
      bytes: this.dispatchedBytes,
      // The digest is final (completing.md5): a completing upload is finished, never hashed further.
      hashState: "",
      ...(this.createdAt !== undefined && { createdAt: this.createdAt }),
      completing: { md5 },
    };
    // Written before Complete: a crash between Complete and the DOWNLOADED mark leaves this record,
    // and the next attempt re-issues Complete on the same upload instead of uploading a second object.
    if (this.options.onProgress !== undefined) {
      try {
        await this.options.onProgress(completing);
      } catch (error) {
        this.progressFailure = { error };
        throw error;
      }
    }
    this.completing = true;
    const outcome = await this.completeUpload(completing);
    this.uploadOpen = false;
    return {
      key,
      bytes: this.dispatchedBytes,
      md5,
      etag: outcome.etag,
      resumedFromBytes: this.resumedFromBytes,
      fetchedBytes: this.fetchedBytes,
      restarts: this.restarts,
      resumes: this.resumes,
      completedEarlier: outcome.completedEarlier,
    };
  }

  /** Finishes an upload an earlier attempt verified and recorded as completing; reads nothing from the hub. */
  private async completeRecorded(resume: UploadProgress): Promise<TransferResult> {
    this.completing = true;
    this.uploadId = resume.uploadId;
    this.createdAt = resume.createdAt;
    const outcome = await this.completeUpload(resume);
    return {
      key: resume.key,
      bytes: resume.bytes,
      md5: resume.completing!.md5,
      etag: outcome.etag,
      resumedFromBytes: resume.bytes,
      fetchedBytes: 0,
      restarts: 0,
      resumes: 0,
      completedEarlier: outcome.completedEarlier,
    };
  }

  /**
   * CompleteMultipartUpload of a verified upload, where NoSuchUpload means "already completed".
   * The S3 API reference: "Note that if CompleteMultipartUpload fails, applications should be prepared
   * to retry any failed requests (including 500 error responses)", and its NoSuchUpload: "The specified
   * multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have
   * been aborted or completed." A completing upload is never aborted by this code (nor by the sweeper),
   * so a NoSuchUpload on it means completed — unless it is old enough that a lifecycle rule may have
   * aborted it: then the outcome is unknown without read rights, and we say so instead of guessing.
   */
  private async completeUpload(
    progress: UploadProgress,
  ): Promise<{ etag: string | undefined; completedEarlier: boolean }> {
    const { granuleId, bucket, s3 } = this.input;
    const { key, uploadId, parts } = progress;
    try {
      const completed = await callS3(`complete multipart upload of ${key}`, () =>
        s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts },
          }),
          { abortSignal: this.options.signal },
        ),
      );
      return { etag: completed.ETag, completedEarlier: false };
    } catch (error) {
      if (!isNoSuchUpload(error)) throw error;
      const age = progress.createdAt === undefined ? undefined : this.options.now() - progress.createdAt;
      if (age === undefined || age >= this.options.lifecycleAbortAfterMs) {
        throw new UploadOutcomeUnknownError(granuleId, key, uploadId, { cause: error });
      }
      return { etag: undefined, completedEarlier: true };
    }
  }
}

function isNoSuchUpload(error: unknown): boolean {
  return error instanceof Error && error.name === "NoSuchUpload";
}

/**
 * Runs one S3 call, turning transient failures (5xx, throttling, network) into the retryable
 * TransferInterruptedError; S3's 4xx refusals (AccessDenied, NoSuchBucket, NoSuchUpload) pass unchanged.
 */
async function callS3<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const refused = status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
    if (refused || error instanceof DownloaderError) throw error;
    throw new TransferInterruptedError(`S3 failed on ${what}`, { cause: error });
  }
}
