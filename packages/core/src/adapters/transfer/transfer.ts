import {
  ArchiveInvalidError,
  ChecksumMismatchError,
  ConditionalWriteConflictError,
  DownloaderError,
  HubFramingError,
  TransferInterruptedError,
  UploadOutcomeUnknownError,
} from "../../domain/errors";
import type { UploadProgress } from "../../domain/granule";
import type { ZipCheck } from "../../domain/zip/check";
import type { DownloadStream } from "../hub/hub";
import { Checkpoints } from "./checkpoints";
import {
  BodyBrokenError,
  FramingMismatchError,
  openBody,
  RestartNeededError,
  readBody,
} from "./download-body";
import { completeMultipartUpload, isNoSuchUpload, type Publication, putObjectOnce } from "./multipart-upload";
import {
  type ResolvedTransferOptions,
  resolveTransferOptions,
  type TransferInput,
  type TransferOptions,
  type TransferResult,
} from "./options";
import { PARTS_GRACE_MS, PartPipeline } from "./parts";
import { resumableError } from "./resumable-error";
import { TransferUpload } from "./upload";
import { createArchiveCheck, refusalOf } from "./verify";

/**
 * Streams a product from the hub into S3, verifying its checksum and zip before the object is visible: a
 * product that fits in one part goes in one PutObject, a larger one into a multipart upload; both
 * write with `If-None-Match: *`, so S3 never holds a second object on the key.
 * @throws ChecksumMismatchError when the streamed bytes differ from `expectedMd5` (the upload is aborted);
 *   ArchiveInvalidError when they are no sound product archive (the upload is aborted).
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

  const transfer = new MultipartTransfer(input, resolved, await createArchiveCheck(input));
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
  /** The multipart upload the parts go to (none yet for a product that fits in one part). */
  private readonly upload: TransferUpload;
  private readonly parts: PartPipeline;
  private readonly checkpoints: Checkpoints;
  private fetchedBytes = 0;
  private resumedFromBytes = 0;
  private restarts = 0;
  private resumes = 0;

  constructor(
    private readonly input: TransferInput,
    private readonly options: ResolvedTransferOptions,
    private readonly zip: ZipCheck | undefined,
  ) {
    this.checkpoints = new Checkpoints(options.onProgress);
    this.upload = new TransferUpload(input, options, this.checkpoints, () => ({
      hashState: this.parts.hashState(),
      ...this.parts.states(),
    }));
    this.parts = new PartPipeline(
      {
        s3: input.s3,
        bucket: input.bucket,
        key: input.key,
        partSizeBytes: options.partSizeBytes,
        queueSize: options.queueSize,
        zip,
        blake3: input.expectedBlake3 !== undefined,
      },
      {
        uploadId: () => this.upload.id,
        ensureUpload: () => this.upload.ensure(),
        throwIfFailed: () => this.checkpoints.throwIfFailed(),
        prefixExtended: (uploadId, parts, boundary) =>
          this.checkpoints.advance({
            uploadId,
            key: this.input.key,
            parts,
            bytes: boundary.bytes,
            hashState: boundary.hashState,
            ...boundary.states,
            ...(this.upload.createdAt !== undefined && { createdAt: this.upload.createdAt }),
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
          this.upload.open = false;
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
    if (error instanceof ConditionalWriteConflictError) {
      await this.parts.cancel();
      return this.upload.dropConflicted(error);
    }
    if (
      [ChecksumMismatchError, ArchiveInvalidError, UploadOutcomeUnknownError].some((c) => error instanceof c)
    ) {
      // No onProgress call may outlive the transfer (it would write progress after the caller moved on).
      await this.checkpoints.settled();
      return error;
    }
    const { signal, maxResumes } = this.options;
    const { granuleId, key } = this.input;
    const fromProgress = this.checkpoints.failedWith(error);
    if (
      !this.upload.completing &&
      !signal?.aborted &&
      !fromProgress &&
      error instanceof DownloaderError &&
      !error.retryable
    ) {
      // The hub says these bytes will never be right (gone, refused, invalid): drop the parts.
      await this.parts.cancel();
      const abortError = this.upload.open ? await this.upload.abort() : undefined;
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
    const bytesTransferred = this.checkpoints.current?.bytes ?? this.resumedFromBytes;
    return resumableError(error, { granuleId, key, maxResumes, signal, bytesTransferred });
  }

  /**
   * Adopts the saved upload when it is usable. A new upload is created at once when the catalogue's size
   * needs several parts, else with the first full part (upload.ensure): a product that fits in one part
   * never has one (one PutObject instead).
   */
  private async begin(): Promise<void> {
    const { resume } = this.input;
    if (resume !== undefined && this.adopt(resume)) return;
    if (resume !== undefined && resume.uploadId !== "") {
      // An unusable checkpoint's upload is dead weight; S3 bills its parts until aborted.
      await this.upload.abort(resume.key, resume.uploadId);
    }
    await this.createIfSeveralParts();
  }

  /** A product the catalogue says cannot fit in one part gets its upload (recorded) before the hub is asked. */
  private async createIfSeveralParts(): Promise<void> {
    const { expectedSizeBytes, sizeToleranceBytes = 0 } = this.input;
    const severalParts =
      expectedSizeBytes !== undefined && expectedSizeBytes - sizeToleranceBytes > this.options.partSizeBytes;
    if (severalParts) await this.upload.ensure();
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
    this.upload.adopt(resume);
    this.resumedFromBytes = resume.bytes;
    this.checkpoints.adopt(resume);
    return true;
  }

  /** Drops every part and the hash and begins again from byte 0 on a new upload. */
  private async restartClean(): Promise<void> {
    await this.parts.cancel();
    if (this.upload.open) await this.upload.abort();
    this.parts.reset();
    this.checkpoints.reset();
    this.resumedFromBytes = 0;
    this.restarts += 1;
    await this.createIfSeveralParts();
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

  /**
   * Publishes the verified product: one PutObject when it fits in one part (nothing dispatched yet),
   * else the last part and CompleteMultipartUpload. Nothing is sent until refusal() found none.
   */
  private async finish(): Promise<TransferResult> {
    if (this.parts.dispatchedBytes === 0 && this.parts.partsDispatched === 0) return this.putWhole();
    return this.completeMultipart();
  }

  /**
   * The one check before anything becomes visible: the streamed MD5 (or BLAKE3) against the hub's, then
   * the zip check's verdict; the error to throw (with `cause`), or undefined when the bytes may be published.
   */
  private refusal(md5: string): ((options?: ErrorOptions) => DownloaderError) | undefined {
    return refusalOf(this.input, md5, this.parts.blake3Digest(), this.zip);
  }

  /** A product that fits in one part: verified, then one conditional PutObject (a mismatch sends nothing). */
  private async putWhole(): Promise<TransferResult> {
    const { granuleId, key } = this.input;
    // A 0-byte upload adopted from an earlier attempt is not needed for a one-part product.
    if (this.upload.open) await this.upload.abort();
    const body = this.parts.takeWhole();
    const md5 = this.parts.digest();
    const refusal = this.refusal(md5);
    if (refusal !== undefined) throw refusal();
    const outcome = await putObjectOnce(
      this.input,
      granuleId,
      body,
      this.upload.metadata(),
      this.options.signal,
    );
    return this.result(key, body.length, md5, outcome);
  }

  /** Uploads the last part, then completes the upload only if the streamed MD5 is the hub's. */
  private async completeMultipart(): Promise<TransferResult> {
    const { key } = this.input;
    await this.parts.dispatchLast();
    const md5 = this.parts.digest();
    const refusal = this.refusal(md5);
    if (refusal !== undefined) {
      // Aborting before Complete is what keeps a bad object from ever becoming visible.
      await this.parts.cancel();
      const abortError = this.upload.open ? await this.upload.abort() : undefined;
      throw refusal(abortError === undefined ? undefined : { cause: abortError });
    }
    await this.parts.settle();
    this.throwIfFailed();
    await this.checkpoints.settled();
    this.throwIfFailed();
    const completing: UploadProgress = {
      uploadId: this.upload.id,
      key,
      parts: this.parts.completedParts(),
      bytes: this.parts.dispatchedBytes,
      // The digest is final (completing.md5): a completing upload is finished, never hashed further.
      hashState: "",
      ...(this.upload.createdAt !== undefined && { createdAt: this.upload.createdAt }),
      completing: { md5 },
    };
    // Written before Complete: a crash between Complete and the DOWNLOADED mark leaves this record,
    // and the next attempt re-issues Complete on the same upload instead of uploading a second object.
    await this.checkpoints.record(completing);
    this.upload.completing = true;
    const outcome = await completeMultipartUpload(this.input, this.input.granuleId, completing, this.options);
    this.upload.open = false;
    return this.result(key, this.parts.dispatchedBytes, md5, outcome);
  }

  private result(
    key: string,
    bytes: number,
    md5: string,
    outcome: { etag: string | undefined; publication: Publication },
  ): TransferResult {
    return {
      key,
      bytes,
      md5,
      etag: outcome.etag,
      resumedFromBytes: this.resumedFromBytes,
      fetchedBytes: this.fetchedBytes,
      restarts: this.restarts,
      resumes: this.resumes,
      publication: outcome.publication,
    };
  }

  /** Finishes an upload an earlier attempt verified and recorded as completing; reads nothing from the hub. */
  private async completeRecorded(resume: UploadProgress): Promise<TransferResult> {
    this.upload.completing = true;
    this.upload.id = resume.uploadId;
    this.upload.createdAt = resume.createdAt;
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
      publication: outcome.publication,
    };
  }

  private throwIfFailed(): void {
    this.checkpoints.throwIfFailed();
    this.parts.throwIfFailed();
  }
}
