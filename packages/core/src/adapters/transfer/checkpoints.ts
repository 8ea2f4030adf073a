import type { UploadProgress } from "../../domain/granule";

/**
 * The checkpoints of one transfer and their persistence through the caller's `onProgress`: calls
 * never overlap, a stale checkpoint is skipped, and the first failed write is kept to be rethrown.
 */
export class Checkpoints {
  /** The newest resumable checkpoint (persisted or not). */
  current: UploadProgress | undefined;
  private persisted: UploadProgress | undefined;
  private chain: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;

  constructor(private readonly onProgress: ((progress: UploadProgress) => Promise<void>) | undefined) {}

  /** Starts from a recorded checkpoint, which is persisted already. */
  adopt(resume: UploadProgress): void {
    this.current = resume;
    this.persisted = resume;
  }

  /** Forgets the checkpoint (a clean restart): nothing is resumable until the new upload is recorded. */
  reset(): void {
    this.current = undefined;
  }

  /** Makes `checkpoint` the newest and persists it after the writes before it. */
  advance(checkpoint: UploadProgress): void {
    this.current = checkpoint;
    const { onProgress } = this;
    if (onProgress === undefined) return;
    this.chain = this.chain.then(async () => {
      const newest = this.current;
      if (this.failure !== undefined || newest === undefined || newest === this.persisted) return;
      try {
        await onProgress(newest);
        this.persisted = newest;
      } catch (error) {
        this.failure = { error };
      }
    });
  }

  /** Makes `checkpoint` the newest and writes it now, after the writes before it; a failed write throws. */
  async writeNow(checkpoint: UploadProgress): Promise<void> {
    this.current = checkpoint;
    if (this.onProgress === undefined) return;
    // An earlier upload's checkpoint still being written must not land after this one.
    await this.chain;
    try {
      await this.onProgress(checkpoint);
      this.persisted = checkpoint;
    } catch (error) {
      this.failure = { error };
      throw error;
    }
  }

  /** Writes a record that is not a resume point (the completing one); a failed write throws. */
  async record(progress: UploadProgress): Promise<void> {
    if (this.onProgress === undefined) return;
    try {
      await this.onProgress(progress);
    } catch (error) {
      this.failure = { error };
      throw error;
    }
  }

  /** Waits for the pending writes: no onProgress call may outlive the transfer. */
  async settled(): Promise<void> {
    await this.chain;
  }

  throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure.error;
  }

  /** Whether `error` is the failure of a checkpoint write. */
  failedWith(error: unknown): boolean {
    return this.failure !== undefined && this.failure.error === error;
  }
}
