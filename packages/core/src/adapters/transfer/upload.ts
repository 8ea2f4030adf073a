import type { ConditionalWriteConflictError } from "../../domain/errors";
import type { UploadProgress } from "../../domain/granule";
import type { Checkpoints } from "./checkpoints";
import { abortMultipartUpload, createMultipartUpload } from "./multipart-upload";
import type { ResolvedTransferOptions, TransferInput } from "./options";

/**
 * The multipart upload of one transfer: created with its first full part (a product that fits in one
 * part never has one), recorded before any part is sent, aborted when it can never be completed.
 */
export class TransferUpload {
  id = "";
  open = false;
  /** When the current upload was created (epoch ms); undefined for a legacy checkpoint without it. */
  createdAt: number | undefined;
  /** Set once the completing checkpoint is written: from then on the upload is never aborted. */
  completing = false;

  constructor(
    private readonly input: TransferInput,
    private readonly options: ResolvedTransferOptions,
    private readonly checkpoints: Checkpoints,
    /** The MD5's state (and the zip check's and BLAKE3's) over the bytes dispatched so far. */
    private readonly hashStates: () => Pick<UploadProgress, "hashState" | "zipState" | "blake3State">,
  ) {}

  /** The object's metadata: the hub's id and MD5 beside the caller's. */
  metadata(): Record<string, string> {
    return {
      ...this.options.metadata,
      "hub-id": this.input.granuleId,
      // Absent when the product was verified without an MD5 (VERIFY_WITHOUT_CHECKSUM, BLAKE3).
      ...(this.input.expectedMd5 !== undefined && { md5: this.input.expectedMd5.toLowerCase() }),
    };
  }

  /** Takes over a recorded upload. */
  adopt(resume: UploadProgress): void {
    this.id = resume.uploadId;
    this.open = true;
    this.createdAt = resume.createdAt;
  }

  /** Best-effort abort; returns the failure (s3rver answers 405) so the caller keeps its own error. */
  async abort(key = this.input.key, uploadId = this.id): Promise<unknown> {
    if (uploadId === this.id) this.open = false;
    return abortMultipartUpload({ s3: this.input.s3, bucket: this.input.bucket, key }, uploadId);
  }

  /** Creates (and records) the multipart upload before the first part goes out, if none is open. */
  async ensure(): Promise<void> {
    if (!this.open) await this.create();
  }

  /**
   * After a 409: S3 says to "re-initiate the multipart upload", so this one is forgotten — first in the
   * table (a completing record on an aborted upload would read NoSuchUpload as "completed"), then in S3.
   * If forgetting fails, the upload is left to the next attempt's Complete (or the lifecycle rule).
   */
  async dropConflicted(error: ConditionalWriteConflictError): Promise<unknown> {
    await this.checkpoints.settled();
    if (!this.open && !this.completing) return error;
    try {
      await this.checkpoints.record({
        uploadId: "",
        key: this.input.key,
        parts: [],
        bytes: 0,
        hashState: "",
      });
      await this.abort();
    } catch {
      // The completing record stays: the retry re-issues Complete on it, which S3 answers again.
    }
    return error;
  }

  private async create(): Promise<void> {
    const { granuleId } = this.input;
    await this.options.beforeCreate?.(this.input.key);
    this.id = await createMultipartUpload(this.input, this.metadata(), granuleId, this.options.signal);
    this.open = true;
    this.createdAt = this.options.now();
    await this.recordNew();
  }

  /**
   * Records the new upload before its first part is sent, so every upload we create is known to the
   * table: a crash from here on leaves an upload the next attempt resumes (or aborts), never an orphan.
   */
  private async recordNew(): Promise<void> {
    const checkpoint: UploadProgress = {
      uploadId: this.id,
      key: this.input.key,
      parts: [],
      bytes: 0,
      ...this.hashStates(),
      ...(this.createdAt !== undefined && { createdAt: this.createdAt }),
    };
    try {
      await this.checkpoints.writeNow(checkpoint);
    } catch (error) {
      // Nobody else knows this upload (the lease may be gone): abort it rather than leak it.
      await this.abort();
      throw error;
    }
  }
}
