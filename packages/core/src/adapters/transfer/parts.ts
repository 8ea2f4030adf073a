import { createBLAKE3, createMD5, type IHasher } from "hash-wasm";
import { InvalidInputError } from "../../domain/errors";
import type { UploadProgress } from "../../domain/granule";
import type { ZipCheck } from "../../domain/zip/check";
import { type UploadTarget, uploadPart } from "./multipart-upload";

/**
 * How long a transfer stopped by its signal lets the parts in flight land before it aborts them: half
 * the functions' 60 s margin before Lambda's timeout, so the checkpoint and the FAILED record still fit.
 */
export const PARTS_GRACE_MS = 30_000;

/** S3's most parts per upload. */
const MAX_PARTS = 10_000;

export type CompletedPart = UploadProgress["parts"][number];

/** Hash state and byte count after a dispatched part: what a checkpoint ending at that part resumes from. */
export interface PartBoundary {
  bytes: number;
  hashState: string;
  /** The zip check's and BLAKE3's states over the same bytes, when the transfer has them. */
  states: ExtraStates;
}

/** What a checkpoint saves beside the MD5's state: the zip check's and the BLAKE3's, when used. */
export type ExtraStates = Pick<UploadProgress, "zipState" | "blake3State">;

export interface PartPipelineSettings extends UploadTarget {
  partSizeBytes: number;
  queueSize: number;
  /** Checks the archive on the bytes the MD5 sees, when given. */
  zip?: ZipCheck;
  /** Hashes a BLAKE3 beside the MD5 (a hub that published only that). */
  blake3?: boolean;
}

export interface PartPipelineHooks {
  /** The upload parts go to now; a part that finishes for another upload is ignored. */
  uploadId(): string;
  /** Opens (and records) the upload before the first part of it is dispatched, when none is open. */
  ensureUpload(): Promise<void>;
  /** Throws a failure recorded outside the parts (a checkpoint write) before the next part starts. */
  throwIfFailed(): void;
  /** Completed parts 1..n now form a longer prefix, resumable from `boundary`. */
  prefixExtended(uploadId: string, parts: CompletedPart[], boundary: PartBoundary): void;
}

/**
 * The MD5/part pipeline: cuts the body into parts, hashes them and uploads up to queueSize at once.
 * Invariant that makes resume safe: the MD5 is fed each part when it is dispatched, in part order,
 * so the hash state saved after part n covers exactly the bytes of parts 1..n, whatever order the
 * part uploads finish in; a checkpoint only ever names a contiguous prefix of completed parts
 * together with that part's saved state.
 */
export class PartPipeline {
  private hasher!: IHasher;
  private blake3: IHasher | undefined;
  private readonly completed = new Map<number, string>();
  private readonly boundaries = new Map<number, PartBoundary>();
  private contiguousParts = 0;
  private nextPartNumber = 1;
  private finalPartNumber: number | undefined;
  private dispatched = 0;
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

  constructor(
    private readonly settings: PartPipelineSettings,
    private readonly hooks: PartPipelineHooks,
  ) {}

  async init(): Promise<void> {
    this.hasher = await createMD5();
    if (this.settings.blake3 === true) this.blake3 = await createBLAKE3();
  }

  /** Bytes hashed and handed to part uploads. */
  get dispatchedBytes(): number {
    return this.dispatched;
  }

  /** Parts handed to uploads since the last reset (an adopted upload's parts included). */
  get partsDispatched(): number {
    return this.nextPartNumber - 1;
  }

  /**
   * Hashes and hands over the whole product, which is all in the pending part (nothing was dispatched):
   * for one PutObject instead of a multipart upload.
   */
  takeWhole(): Buffer {
    const body = this.pending === undefined ? Buffer.alloc(0) : this.pending.subarray(0, this.pendingLength);
    this.pending = undefined;
    this.pendingLength = 0;
    this.hasher.update(body);
    this.settings.zip?.update(body);
    this.blake3?.update(body);
    this.dispatched += body.length;
    return body;
  }

  /** Bytes taken from bodies so far: dispatched, plus the part being filled. */
  get consumedBytes(): number {
    return this.dispatched + this.pendingLength;
  }

  /** The MD5 state over the dispatched bytes, base64. */
  hashState(): string {
    return Buffer.from(this.hasher.save()).toString("base64");
  }

  /** The zip check's and BLAKE3's states over the dispatched bytes, when the transfer has them. */
  states(): ExtraStates {
    const { zip } = this.settings;
    const { blake3 } = this;
    return {
      ...(zip !== undefined && { zipState: zip.save() }),
      ...(blake3 !== undefined && { blake3State: Buffer.from(blake3.save()).toString("base64") }),
    };
  }

  /** The BLAKE3 of the dispatched bytes, lowercase hex, when one is hashed. */
  blake3Digest(): string | undefined {
    return this.blake3?.digest("hex");
  }

  digest(): string {
    return this.hasher.digest("hex");
  }

  /** Takes over the parts and hash of a recorded upload; false (hash reset) when its hash state is unusable. */
  adopt(resume: UploadProgress): boolean {
    const { zip } = this.settings;
    try {
      this.hasher.load(Buffer.from(resume.hashState, "base64"));
      // A checkpoint without the zip check's state cannot resume it: start over rather than skip the check.
      if (zip !== undefined && (resume.zipState === undefined || !zip.restore(resume.zipState))) {
        throw new Error("no usable zip check state");
      }
      if (zip !== undefined && zip.position !== resume.bytes)
        throw new Error("zip check state covers other bytes");
      if (this.blake3 !== undefined) {
        if (resume.blake3State === undefined) throw new Error("no BLAKE3 state");
        this.blake3.load(Buffer.from(resume.blake3State, "base64"));
      }
    } catch {
      this.hasher.init();
      this.blake3?.init();
      zip?.reset();
      return false;
    }
    for (const part of resume.parts) this.completed.set(part.PartNumber, part.ETag);
    this.contiguousParts = resume.parts.length;
    this.nextPartNumber = resume.parts.length + 1;
    this.dispatched = resume.bytes;
    return true;
  }

  async write(chunk: Uint8Array): Promise<void> {
    const { partSizeBytes } = this.settings;
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

  /** Dispatches the last part. Only an empty product has nothing pending here: it still needs one (empty) part. */
  async dispatchLast(): Promise<void> {
    if (this.pendingLength > 0 || this.nextPartNumber === 1) await this.dispatch(true);
  }

  /** Every completed part, in part order. */
  completedParts(): CompletedPart[] {
    return [...this.completed].sort(([a], [b]) => a - b).map(([PartNumber, ETag]) => ({ PartNumber, ETag }));
  }

  throwIfFailed(): void {
    if (this.partFailure !== undefined) throw this.partFailure.error;
  }

  /** Waits until no part is in flight. */
  async settle(): Promise<void> {
    await Promise.all(this.inFlight);
  }

  /**
   * Waits up to `graceMs` for the parts in flight (the progress a resume keeps), then stops the rest:
   * once the deadline has passed, a stalled UploadPart must not hold the function until Lambda kills it.
   */
  async settleWithin(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), graceMs);
    });
    try {
      if ((await Promise.race([this.settle(), late])) === "late") await this.cancel();
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the running part uploads and waits for them to end. */
  async cancel(): Promise<void> {
    this.partsController.abort();
    await this.settle();
  }

  /** Drops every part and the hash, for a start from byte 0 (call after cancel()). */
  reset(): void {
    this.partsController = new AbortController();
    this.partFailure = undefined;
    this.completed.clear();
    this.boundaries.clear();
    this.contiguousParts = 0;
    this.nextPartNumber = 1;
    this.finalPartNumber = undefined;
    this.dispatched = 0;
    this.pending = undefined;
    this.pendingLength = 0;
    this.hasher.init();
    this.blake3?.init();
    this.settings.zip?.reset();
  }

  /** Hashes the pending part and starts its upload once fewer than queueSize parts are in flight. */
  private async dispatch(final: boolean): Promise<void> {
    while (this.inFlight.size >= this.settings.queueSize) await Promise.race(this.inFlight);
    this.hooks.throwIfFailed();
    this.throwIfFailed();
    await this.hooks.ensureUpload();
    const partNumber = this.nextPartNumber;
    if (partNumber > MAX_PARTS) {
      throw new InvalidInputError(
        `${this.settings.key} needs more than ${MAX_PARTS} parts; raise partSizeBytes`,
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
    // The same bytes, once, in order: the zip check's state at a boundary covers what the MD5's does.
    this.settings.zip?.update(body);
    this.blake3?.update(body);
    this.dispatched += body.length;
    if (final) {
      this.finalPartNumber = partNumber;
    } else {
      this.boundaries.set(partNumber, {
        bytes: this.dispatched,
        hashState: this.hashState(),
        states: this.states(),
      });
    }
    const uploadId = this.hooks.uploadId();
    // Not the caller's signal: a deadline stops the body, but parts already read are the progress the
    // next attempt resumes from, so they land (within PARTS_GRACE_MS of the deadline) and get checkpointed.
    const upload: Promise<void> = uploadPart(
      this.settings,
      uploadId,
      partNumber,
      body,
      this.partsController.signal,
    )
      .then(
        (etag) => {
          // Only after success is S3 done with the bytes; a failed or aborted request may not be.
          if (buffer !== undefined && this.spareBuffers.length < this.settings.queueSize) {
            this.spareBuffers.push(buffer);
          }
          this.partCompleted(uploadId, partNumber, etag);
        },
        (error: unknown) => {
          if (uploadId === this.hooks.uploadId()) this.partFailure ??= { error };
        },
      )
      .finally(() => this.inFlight.delete(upload));
    this.inFlight.add(upload);
  }

  private partCompleted(uploadId: string, partNumber: number, etag: string): void {
    if (uploadId !== this.hooks.uploadId()) return;
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
    this.hooks.prefixExtended(uploadId, parts, boundary);
  }
}
