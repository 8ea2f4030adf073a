import { DownloaderError } from "./contract";

// Errors of the granule table and the manifest built from it, and of the AWS services under them.

/**
 * An AWS service (DynamoDB, S3) throttled us or failed in a way that may pass (throttling, a 5xx,
 * S3's RequestTimeout or SlowDown, a request timeout or reset) and the SDK's own retries are spent.
 * Retryable: the state machine backs off and runs the task again. Mapped in one place
 * (adapters/aws-failure.ts), so no undeclared AWS error name reaches the state machine.
 */
export class AwsUnavailableError extends DownloaderError {
  static override readonly retry = "backoff";
  /** The SDK error's own name, e.g. ThrottlingException. */
  readonly awsError: string;
  readonly status?: number;
  constructor(message: string, options: ErrorOptions & { awsError: string; status?: number }) {
    super(message, options);
    this.name = "AwsUnavailableError";
    this.awsError = options.awsError;
    this.status = options.status;
  }
}

/** No granule item exists for this id in the granule table. Terminal. */
export class GranuleNotFoundError extends DownloaderError {
  static override readonly retry = "terminal";
  readonly granuleId: string;
  constructor(granuleId: string, options?: ErrorOptions) {
    super(`granule ${granuleId} is not in the granule table`, options);
    this.name = "GranuleNotFoundError";
    this.granuleId = granuleId;
  }
}

/** This worker no longer holds the granule's lease (it expired and another worker claimed it). */
export class LeaseLostError extends DownloaderError {
  static override readonly retry = "terminal";
  readonly granuleId: string;
  readonly owner: string;
  constructor(granuleId: string, owner: string, options?: ErrorOptions) {
    super(`granule ${granuleId}: lease held by ${owner} was lost`, options);
    this.name = "LeaseLostError";
    this.granuleId = granuleId;
    this.owner = owner;
  }
}

/**
 * The status index shows fewer granules for a day than the per (day, platform) counters say were
 * recorded. No longer raised: WriteManifest lists the day and recounts it from the index (an
 * over-count must never withhold a day's granules); kept while the error contract names it.
 */
export class ManifestIncompleteError extends DownloaderError {
  static override readonly retry = "unretried";
  readonly day: string;
  /** Granules recorded but absent from the index. */
  readonly missing: number;
  readonly recorded: number;
  readonly indexed: number;
  constructor(day: string, counts: { recorded: number; indexed: number }, options?: ErrorOptions) {
    const missing = counts.recorded - counts.indexed;
    super(
      `${day}: ${missing} granule(s) missing from the status index (${counts.recorded} recorded, ${counts.indexed} indexed); ` +
        "the manifest would leave them out",
      options,
    );
    this.name = "ManifestIncompleteError";
    this.day = day;
    this.missing = missing;
    this.recorded = counts.recorded;
    this.indexed = counts.indexed;
  }
}
