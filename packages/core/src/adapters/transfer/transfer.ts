import {
  ChecksumMismatchError,
  DownloaderError,
  HubFramingError,
  TransferInterruptedError,
  TransferTooSlowError,
  UploadOutcomeUnknownError,
} from "../../domain/errors";
import type { UploadProgress } from "../../domain/granule";
import type { DownloadStream } from "../hub/hub";
import { Checkpoints } from "./checkpoints";
import {
  BodyBrokenError,
  FramingMismatchError,
  openBody,
  RestartNeededError,
  readBody,
} from "./download-body";
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  isNoSuchUpload,
} from "./multipart-upload";
import {
  type ResolvedTransferOptions,
  resolveTransferOptions,
  type TransferInput,
  type TransferOptions,
  type TransferResult,
} from "./options";
import { PARTS_GRACE_MS, PartPipeline } from "./parts";

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
  const resolved = resolveTransferOptions(input, options);
  if (options.signal?.aborted) {
    throw new TransferInterruptedError(`transfer of ${input.granuleId} was aborted before it started`, {
      cause: options.signal.reason,
      granuleId: input.granuleId,
      bytesTransferred: input.resume?.bytes ?? 0,
    });
  }

  const transfer = new MultipartTransfer(input, resolved);
  try {
    return await transfer.run();
  } catch (error) {
    throw await transfer.fail(error);
  }
}

/**
 * One transfer's state: the multipart upload it writes to, its parts (PartPipeline) and its
 * checkpoints; it opens bodies, resumes or restarts them, and completes or aborts the upload.
 */
class MultipartTransfer {
  private readonly expectedMd5: string;
  private uploadId = "";
  private uploadOpen = false;
  /** When the current upload was created (epoch ms); undefined for a legacy checkpoint without it. */
  private createdAt: number | undefined;
  /** Set once the completing checkpoint is written: from then on the upload is never aborted. */
  private completing = false;
  private readonly parts: PartPipeline;
  private readonly checkpoints: Checkpoints;
  private fetchedBytes = 0;
  private resumedFromBytes = 0;
  private restarts = 0;
  private resumes = 0;

  constructor(
    private readonly input: TransferInput,
    private readonly options: ResolvedTransferOptions,
  ) {
    this.expectedMd5 = input.expectedMd5.toLowerCase();
    this.checkpoints = new Checkpoints(options.onProgress);
    this.parts = new PartPipeline(
      {
        s3: input.s3,
        bucket: input.bucket,
        key: input.key,
        partSizeBytes: options.partSizeBytes,
        queueSize: options.queueSize,
      },
      {
        uploadId: () => this.uploadId,
        throwIfFailed: () => this.checkpoints.throwIfFailed(),
        prefixExtended: (uploadId, parts, boundary) =>
          this.checkpoints.advance({
            uploadId,
            key: this.input.key,
            parts,
            bytes: boundary.bytes,
            hashState: boundary.hashState,
            ...(this.createdAt !== undefined && { createdAt: this.createdAt }),
          }),
      },
    );
  }

  async run(): Promise<TransferResult> {
    const { resume } = this.input;
    // A verified upload whose Complete may already have happened: finishing it is all that is left,
    // and downloading again could create a second object (a second HLS processing run).
    if (resume?.completing !== undefined && resume.uploadId !== "") return this.completeRecorded(resume);
    await this.parts.init();
    await this.begin();
    let recoveriesLeft = this.options.maxResumes;
    // A framing lie is retried once from a clean state: a proxy may have garbled one answer, but a
    // hub that lies twice would lie on every fetch (each a whole product), so the third is refused.
    let framingRetriesLeft = 1;
    for (;;) {
      try {
        this.options.signal?.throwIfAborted();
        const download = await this.open();
        await readBody(this.input, download, {
          signal: this.options.signal,
          minBytesPerSecond: this.options.minBytesPerSecond,
          floorWindowMs: this.options.floorWindowMs,
          parts: this.parts,
          fetched: (length) => {
            this.fetchedBytes += length;
          },
        });
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
      await this.checkpoints.settled();
      return error;
    }
    const { signal, maxResumes } = this.options;
    const { granuleId, key } = this.input;
    const fromProgress = this.checkpoints.failedWith(error);
    if (
      !this.completing &&
      !signal?.aborted &&
      !fromProgress &&
      error instanceof DownloaderError &&
      !error.retryable
    ) {
      // The hub says these bytes will never be right (gone, refused, invalid): drop the parts.
      await this.parts.cancel();
      const abortError = await this.abortUpload();
      if (abortError !== undefined) {
        console.warn(
          JSON.stringify({ msg: "abort of multipart upload failed", granuleId, key, error: `${abortError}` }),
        );
      }
      await this.checkpoints.settled();
      return error;
    }
    // Keep the upload: let running parts land so the checkpoint covers them (past the deadline, for a while).
    await (signal?.aborted ? this.parts.settleWithin(PARTS_GRACE_MS) : this.parts.settle());
    await this.checkpoints.settled();
    const resumable = {
      granuleId,
      bytesTransferred: this.checkpoints.current?.bytes ?? this.resumedFromBytes,
    };
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
    if (!this.parts.adopt(resume)) return false;
    this.uploadId = resume.uploadId;
    this.uploadOpen = true;
    this.createdAt = resume.createdAt;
    this.resumedFromBytes = resume.bytes;
    this.checkpoints.adopt(resume);
    return true;
  }

  private async createUpload(): Promise<void> {
    const { granuleId } = this.input;
    const metadata = { ...this.options.metadata, "hub-id": granuleId, md5: this.expectedMd5 };
    this.uploadId = await createMultipartUpload(this.input, metadata, granuleId, this.options.signal);
    this.uploadOpen = true;
    this.createdAt = this.options.now();
    await this.checkpointNewUpload();
  }

  /**
   * Records the new upload before its first part is sent, so every upload we create is known to the
   * table: a crash from here on leaves an upload the next attempt resumes (or aborts), never an orphan.
   */
  private async checkpointNewUpload(): Promise<void> {
    const checkpoint: UploadProgress = {
      uploadId: this.uploadId,
      key: this.input.key,
      parts: [],
      bytes: 0,
      hashState: this.parts.hashState(),
      ...(this.createdAt !== undefined && { createdAt: this.createdAt }),
    };
    try {
      await this.checkpoints.writeNow(checkpoint);
    } catch (error) {
      // Nobody else knows this upload (the lease may be gone): abort it rather than leak it.
      await this.abortUpload();
      throw error;
    }
  }

  /** Best-effort abort; returns the failure (s3rver answers 405) so the caller keeps its own error. */
  private async abortUpload(key = this.input.key, uploadId = this.uploadId): Promise<unknown> {
    if (uploadId === this.uploadId) this.uploadOpen = false;
    return abortMultipartUpload({ s3: this.input.s3, bucket: this.input.bucket, key }, uploadId);
  }

  /** Drops every part and the hash and begins again from byte 0 on a new upload. */
  private async restartClean(): Promise<void> {
    await this.parts.cancel();
    if (this.uploadOpen) await this.abortUpload();
    this.parts.reset();
    this.checkpoints.reset();
    this.resumedFromBytes = 0;
    this.restarts += 1;
    await this.createUpload();
  }

  /**
   * Opens the body where the consumed bytes end. A hub that ignored Range forces a clean restart onto
   * this body; one whose Content-Range starts elsewhere forces a clean restart and a new request.
   */
  private async open(): Promise<DownloadStream> {
    const offset = this.parts.consumedBytes;
    const download = await openBody(this.input, offset, this.options.signal);
    try {
      // The body repeats bytes the parts and the hash already hold: keeping either would corrupt both.
      if (download.offset !== offset) await this.restartClean();
      return download;
    } catch (error) {
      download.body.destroy();
      throw error;
    }
  }

  /** Uploads the last part, then completes the upload only if the streamed MD5 is the hub's. */
  private async finish(): Promise<TransferResult> {
    const { granuleId, key } = this.input;
    await this.parts.dispatchLast();
    const md5 = this.parts.digest();
    if (md5 !== this.expectedMd5) {
      // Aborting before Complete is what keeps a bad object from ever becoming visible.
      await this.parts.cancel();
      const abortError = await this.abortUpload();
      throw new ChecksumMismatchError(
        granuleId,
        this.expectedMd5,
        md5,
        abortError === undefined ? undefined : { cause: abortError },
      );
    }
    await this.parts.settle();
    this.throwIfFailed();
    await this.checkpoints.settled();
    this.throwIfFailed();
    const completing: UploadProgress = {
      uploadId: this.uploadId,
      key,
      parts: this.parts.completedParts(),
      bytes: this.parts.dispatchedBytes,
      // The digest is final (completing.md5): a completing upload is finished, never hashed further.
      hashState: "",
      ...(this.createdAt !== undefined && { createdAt: this.createdAt }),
      completing: { md5 },
    };
    // Written before Complete: a crash between Complete and the DOWNLOADED mark leaves this record,
    // and the next attempt re-issues Complete on the same upload instead of uploading a second object.
    await this.checkpoints.record(completing);
    this.completing = true;
    const outcome = await completeMultipartUpload(this.input, granuleId, completing, this.options);
    this.uploadOpen = false;
    return {
      key,
      bytes: this.parts.dispatchedBytes,
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
    const outcome = await completeMultipartUpload(this.input, this.input.granuleId, resume, this.options);
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

  private throwIfFailed(): void {
    this.checkpoints.throwIfFailed();
    this.parts.throwIfFailed();
  }
}
