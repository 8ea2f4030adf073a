import { DownloaderError } from "./contract";

// Errors of a granule's transfer: the streamed body and its multipart upload.

/** The body broke mid-transfer or the attempt ran out of time; progress may be resumed. */
export class TransferInterruptedError extends DownloaderError {
  static override readonly retry = "backoff";
  readonly granuleId?: string;
  readonly bytesTransferred?: number;
  constructor(message: string, options?: ErrorOptions & { granuleId?: string; bytesTransferred?: number }) {
    super(message, options);
    this.name = "TransferInterruptedError";
    this.granuleId = options?.granuleId;
    this.bytesTransferred = options?.bytesTransferred;
  }
}

/**
 * A download body stayed below the throughput floor for a whole window and was cut; the bytes already
 * uploaded are kept, so the retry resumes. An interruption like any other (hence the subclass).
 */
export class TransferTooSlowError extends TransferInterruptedError {
  readonly bytesPerSecond: number;
  constructor(
    message: string,
    options: ErrorOptions & { granuleId?: string; bytesTransferred?: number; bytesPerSecond: number },
  ) {
    super(message, options);
    this.name = "TransferTooSlowError";
    this.bytesPerSecond = options.bytesPerSecond;
  }
}

/** The streamed bytes do not hash to the hub's MD5. The multipart upload was aborted; no object exists. */
export class ChecksumMismatchError extends DownloaderError {
  static override readonly retry = "mismatch";
  readonly granuleId: string;
  readonly expectedMd5: string;
  readonly actualMd5: string;
  /** The checksum compared: MD5, or BLAKE3 when the hub published only that (then in expectedMd5/actualMd5). */
  readonly algorithm: "MD5" | "BLAKE3";
  constructor(
    granuleId: string,
    expectedMd5: string,
    actualMd5: string,
    options?: ErrorOptions & { algorithm?: "MD5" | "BLAKE3" },
  ) {
    const algorithm = options?.algorithm ?? "MD5";
    super(
      `granule ${granuleId}: ${algorithm} ${actualMd5} of the streamed bytes differs from the hub's ${expectedMd5}`,
      options,
    );
    this.algorithm = algorithm;
    this.name = "ChecksumMismatchError";
    this.granuleId = granuleId;
    this.expectedMd5 = expectedMd5;
    this.actualMd5 = actualMd5;
  }
}

/**
 * The streamed bytes are not a sound product archive (a zip entry's CRC-32, the central directory, the
 * end record, the exact length or the one `<name>.SAFE` folder HLS unpacks), whatever the MD5 says: the
 * hub published broken bytes. The multipart upload was aborted; no object exists. Like a mismatch it
 * gets one more full download, then stays FAILED: a broken archive stays broken.
 */
export class ArchiveInvalidError extends DownloaderError {
  static override readonly retry = "mismatch";
  readonly granuleId: string;
  /** The check that failed (crc, directory, end, truncated, length, safe, …). */
  readonly check: string;
  /** The entry it failed at, when one. */
  readonly entry?: string;
  readonly offset: number;
  constructor(
    granuleId: string,
    failure: { check: string; entry?: string; offset: number; detail: string },
    options?: ErrorOptions,
  ) {
    const where = failure.entry === undefined ? "" : ` entry ${failure.entry}`;
    super(
      `granule ${granuleId}: archive check ${failure.check} failed at byte ${failure.offset}${where}: ${failure.detail}`,
      options,
    );
    this.name = "ArchiveInvalidError";
    this.granuleId = granuleId;
    this.check = failure.check;
    this.entry = failure.entry;
    this.offset = failure.offset;
  }
}

/**
 * A verified upload was sent CompleteMultipartUpload but S3 no longer knows its id, and the upload is
 * old enough that a lifecycle rule may have aborted it instead: without read rights on the bucket we
 * cannot tell whether the object exists. Terminal: no run, push or `ops requeue --day` downloads it
 * again (HLS deletes its inputs, so a second upload could start a second processing run); an operator
 * confirms the object is missing and requeues the granule by name.
 */
export class UploadOutcomeUnknownError extends DownloaderError {
  static override readonly retry = "terminal";
  readonly granuleId: string;
  readonly key: string;
  readonly uploadId: string;
  constructor(granuleId: string, key: string, uploadId: string, options?: ErrorOptions) {
    super(
      `granule ${granuleId}: upload ${uploadId} of ${key} was verified and completed, but S3 no longer knows it and it is older than a lifecycle abort: the object may be missing; check the bucket, then requeue`,
      options,
    );
    this.name = "UploadOutcomeUnknownError";
    this.granuleId = granuleId;
    this.key = key;
    this.uploadId = uploadId;
  }
}

/**
 * S3 answered 409 ConditionalRequestConflict to a conditional write of the granule's key: another write
 * of the same key was in progress. The upload is dropped and the retry starts from a fresh one (S3:
 * "re-initiate the multipart upload"); a retry that finds the key written answers 412, "delivered".
 */
export class ConditionalWriteConflictError extends DownloaderError {
  static override readonly retry = "backoff";
  readonly granuleId: string;
  readonly key: string;
  constructor(granuleId: string, key: string, options?: ErrorOptions) {
    super(
      `granule ${granuleId}: a concurrent write of ${key} conflicted with ours (S3 409); retry from a fresh upload`,
      options,
    );
    this.name = "ConditionalWriteConflictError";
    this.granuleId = granuleId;
    this.key = key;
  }
}
