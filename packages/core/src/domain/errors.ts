/**
 * Every error the downloader raises. Step Functions `Retry` and `Catch` match on `error.name`,
 * so each class sets it explicitly (minifiers and bundlers rename classes) and the list of
 * retryable names below is what the state machine's Retry is built from.
 */

/** Base class: a typed, named error whose `cause` chains. */
export abstract class DownloaderError extends Error {
  /** Whether the state machine retries this error (see RETRYABLE_ERROR_NAMES). */
  abstract readonly retryable: boolean;
}

export interface ConfigIssue {
  key: string;
  message: string;
}

/** A setting is missing or invalid; `issues` names every bad key. */
export class ConfigError extends DownloaderError {
  readonly retryable = false;
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[], options?: ErrorOptions) {
    super(`invalid configuration: ${issues.map((i) => `${i.key}: ${i.message}`).join("; ")}`, options);
    this.name = "ConfigError";
    this.issues = issues;
  }
}

/**
 * A local-mode data folder is held by another live run (its lock file names the holder's PID), so this
 * run could not start: the folder's table and buckets are the holder's until it ends.
 */
export class DataFolderInUseError extends DownloaderError {
  readonly retryable = false;
  readonly dataDir: string;
  readonly pid: number;
  readonly lockFile?: string;
  constructor(dataDir: string, pid: number, options?: ErrorOptions & { lockFile?: string; detail?: string }) {
    super(
      `data folder ${dataDir} in use by PID ${pid}${options?.detail === undefined ? "" : ` ${options.detail}`}`,
      options,
    );
    this.name = "DataFolderInUseError";
    this.dataDir = dataDir;
    this.pid = pid;
    this.lockFile = options?.lockFile;
  }
}

/** Input to a handler, a CLI or a core function is malformed (backfill range, event shape, option). */
export class InvalidInputError extends DownloaderError {
  readonly retryable = false;
  readonly field?: string;
  constructor(message: string, options?: ErrorOptions & { field?: string }) {
    super(message, options);
    this.name = "InvalidInputError";
    this.field = options?.field;
  }
}

/** The hub answered 429; `retryAfterSeconds` is its Retry-After when it sent one. */
export class HubThrottledError extends DownloaderError {
  readonly retryable = true;
  readonly retryAfterSeconds?: number;
  readonly url?: string;
  constructor(message: string, options?: ErrorOptions & { retryAfterSeconds?: number; url?: string }) {
    super(message, options);
    this.name = "HubThrottledError";
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.url = options?.url;
  }
}

/** The hub failed in a way that may pass: 5xx, timeout, connection reset before a body started. */
export class HubUnavailableError extends DownloaderError {
  readonly retryable = true;
  readonly status?: number;
  readonly url?: string;
  constructor(message: string, options?: ErrorOptions & { status?: number; url?: string }) {
    super(message, options);
    this.name = "HubUnavailableError";
    this.status = options?.status;
    this.url = options?.url;
  }
}

/** The hub has not published the granule's MD5 yet (CDSE: hours after publication). Retry later, never guess. */
export class ChecksumNotPublishedError extends DownloaderError {
  readonly retryable = true;
  readonly granuleId: string;
  constructor(granuleId: string, options?: ErrorOptions) {
    super(`checksum of granule ${granuleId} is not published yet`, options);
    this.name = "ChecksumNotPublishedError";
    this.granuleId = granuleId;
  }
}

/** The body broke mid-transfer or the attempt ran out of time; progress may be resumed. */
export class TransferInterruptedError extends DownloaderError {
  readonly retryable = true;
  readonly granuleId?: string;
  readonly bytesTransferred?: number;
  constructor(message: string, options?: ErrorOptions & { granuleId?: string; bytesTransferred?: number }) {
    super(message, options);
    this.name = "TransferInterruptedError";
    this.granuleId = options?.granuleId;
    this.bytesTransferred = options?.bytesTransferred;
  }
}

/** The streamed bytes do not hash to the hub's MD5. The multipart upload was aborted; no object exists. */
export class ChecksumMismatchError extends DownloaderError {
  readonly retryable = false;
  readonly granuleId: string;
  readonly expectedMd5: string;
  readonly actualMd5: string;
  constructor(granuleId: string, expectedMd5: string, actualMd5: string, options?: ErrorOptions) {
    super(
      `granule ${granuleId}: MD5 ${actualMd5} of the streamed bytes differs from the hub's ${expectedMd5}`,
      options,
    );
    this.name = "ChecksumMismatchError";
    this.granuleId = granuleId;
    this.expectedMd5 = expectedMd5;
    this.actualMd5 = actualMd5;
  }
}

/** The hub answered 404 or 410: the product was withdrawn. Terminal. */
export class GranuleGoneError extends DownloaderError {
  readonly retryable = false;
  readonly granuleId: string;
  readonly status: number;
  constructor(granuleId: string, status: number, options?: ErrorOptions) {
    super(`granule ${granuleId} is gone from the hub (HTTP ${status})`, options);
    this.name = "GranuleGoneError";
    this.granuleId = granuleId;
    this.status = status;
  }
}

/** The hub refused our credentials (401/403 after any refresh). Terminal: an operator must fix the secret. */
export class HubAuthError extends DownloaderError {
  readonly retryable = false;
  readonly status?: number;
  readonly url?: string;
  constructor(message: string, options?: ErrorOptions & { status?: number; url?: string }) {
    super(message, options);
    this.name = "HubAuthError";
    this.status = options?.status;
    this.url = options?.url;
  }
}

/** A hub answer failed validation (malformed JSON, missing field, unsafe name, non-hex checksum). Terminal. */
export class InvalidHubDataError extends DownloaderError {
  readonly retryable = false;
  readonly url?: string;
  readonly granuleId?: string;
  constructor(message: string, options?: ErrorOptions & { url?: string; granuleId?: string }) {
    super(message, options);
    this.name = "InvalidHubDataError";
    this.url = options?.url;
    this.granuleId = options?.granuleId;
  }
}

/** No granule item exists for this id in the granule table. Terminal. */
export class GranuleNotFoundError extends DownloaderError {
  readonly retryable = false;
  readonly granuleId: string;
  constructor(granuleId: string, options?: ErrorOptions) {
    super(`granule ${granuleId} is not in the granule table`, options);
    this.name = "GranuleNotFoundError";
    this.granuleId = granuleId;
  }
}

/** This worker no longer holds the granule's lease (it expired and another worker claimed it). */
export class LeaseLostError extends DownloaderError {
  readonly retryable = false;
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
 * A verified upload was sent CompleteMultipartUpload but S3 no longer knows its id, and the upload is
 * old enough that a lifecycle rule may have aborted it instead: without read rights on the bucket we
 * cannot tell whether the object exists. Terminal: an operator checks the bucket and requeues if not.
 */
export class UploadOutcomeUnknownError extends DownloaderError {
  readonly retryable = false;
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
 * The Step Functions service errors the local runtime raises where AWS would, names as AWS spells
 * them ("States.ExceedToleratedFailureThreshold: a Map state failed because the number of failed
 * items exceeded the threshold specified in the state machine definition"; "States.ItemReaderFailed:
 * a Map state failed because it couldn't read from the item source specified in the ItemReader
 * field" — AWS docs, Error handling in Step Functions workflows; the API's ExecutionNotRedrivable
 * and ExecutionDoesNotExist).
 */
export const STATES_ERROR_NAMES = [
  "States.ExceedToleratedFailureThreshold",
  "States.ItemReaderFailed",
  "States.ResultWriterFailed",
  "ExecutionNotRedrivable",
  "ExecutionDoesNotExist",
] as const;
export type StatesErrorName = (typeof STATES_ERROR_NAMES)[number];

/**
 * An error Step Functions itself raises (not a handler's): a Map Run beyond its tolerated failures,
 * an unreadable ItemReader, a refused redrive. Raised by the local runtime that models the service.
 */
export class StatesError extends Error {
  readonly retryable = false;
  constructor(name: StatesErrorName, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = name;
  }
}

/**
 * A hub answered a JSON document (search page, checksum, token) larger than the configured cap
 * (HUB_MAX_JSON_BYTES). Read as a stream and cut at the cap, so an endless body costs at most the cap
 * in memory; retryable, because a proxy's error page or a broken stream heals more often than not.
 */
export class HubAnswerTooLargeError extends DownloaderError {
  readonly retryable = true;
  readonly url?: string;
  readonly maxBytes: number;
  constructor(message: string, options: ErrorOptions & { url?: string; maxBytes: number }) {
    super(message, options);
    this.name = "HubAnswerTooLargeError";
    this.url = options.url;
    this.maxBytes = options.maxBytes;
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

/**
 * The hub framed a download body inconsistently (body longer or shorter than its Content-Length,
 * bytes past the catalogue size, a Content-Length the catalogue size contradicts) on the first try
 * and again on a clean retry. Terminal: fetching the same lie again costs a whole product each time.
 * No multipart upload is left behind.
 */
export class HubFramingError extends DownloaderError {
  readonly retryable = false;
  readonly granuleId: string;
  constructor(granuleId: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HubFramingError";
    this.granuleId = granuleId;
  }
}

/**
 * The hub lists the product but does not serve it yet (CDSE `Online: false`: in the long-term
 * archive or not yet on the download service). The granule stays recorded; retried until online.
 */
export class GranuleOfflineError extends DownloaderError {
  readonly retryable = true;
  readonly granuleId: string;
  constructor(granuleId: string, options?: ErrorOptions) {
    super(`granule ${granuleId} is offline at the hub (Online: false); retry once it is online`, options);
    this.name = "GranuleOfflineError";
    this.granuleId = granuleId;
  }
}

/**
 * The status index shows fewer granules for a day than the per (day, platform) counters say were
 * recorded: a manifest written now would leave granules out without anyone noticing, so
 * WriteManifest fails the execution instead (the failed-execution alarm fires). Not retryable: the
 * short wait for index propagation already happened inside WriteManifest.
 */
export class ManifestIncompleteError extends DownloaderError {
  readonly retryable = false;
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

/**
 * The identity service refused a token grant because the account holds too many sessions (Keycloak's
 * "User session count limiter" with "Deny new session" answers a password grant HTTP 403 with error
 * "sessionLimitExceeded" or the realm's own message). Not bad credentials: sessions expire by themselves
 * (CDSE: 10 min access, 60 min refresh), so the state machine backs off and tries again.
 */
export class HubSessionsExhaustedError extends DownloaderError {
  readonly retryable = true;
  readonly status?: number;
  readonly url?: string;
  constructor(message: string, options?: ErrorOptions & { status?: number; url?: string }) {
    super(message, options);
    this.name = "HubSessionsExhaustedError";
    this.status = options?.status;
    this.url = options?.url;
  }
}

/**
 * Every download slot of the hub quota (HUB_DOWNLOAD_SLOTS, shared by every execution of a stage) is
 * held: thrown at once, before any hub connection, so the waiting happens in the state machine's
 * Retry and never inside a Lambda. Never recorded FAILED: a granule that waits has not failed.
 */
export class HubSlotsBusyError extends DownloaderError {
  readonly retryable = true;
  readonly slots: number;
  readonly granuleId?: string;
  constructor(slots: number, options?: ErrorOptions & { granuleId?: string }) {
    super(
      `all ${slots} hub download slots are in use${options?.granuleId === undefined ? "" : ` (granule ${options.granuleId} waits)`}`,
      options,
    );
    this.name = "HubSlotsBusyError";
    this.slots = slots;
    this.granuleId = options?.granuleId;
  }
}

/**
 * Error names the state machine retries with exponential backoff and jitter. The stack builds its
 * Retry from this list, so code and state machine cannot drift.
 */
export const RETRYABLE_ERROR_NAMES = [
  "HubThrottledError",
  "HubUnavailableError",
  "ChecksumNotPublishedError",
  "TransferInterruptedError",
  "TransferTooSlowError",
  "HubAnswerTooLargeError",
  "GranuleOfflineError",
] as const;

/**
 * Too many sessions clears when sessions expire (CDSE: access tokens live 10 min, refresh tokens 60):
 * its own Retry waits 30 s, doubling up to 5 min, 12 times (about 50 min at most, half that on
 * average under full jitter) before the granule is recorded failed.
 */
export const SESSIONS_EXHAUSTED_ERROR_NAMES = ["HubSessionsExhaustedError"] as const;
export const SESSIONS_EXHAUSTED_RETRY = {
  intervalSeconds: 30,
  backoffRate: 2,
  maxDelaySeconds: 300,
  maxAttempts: 12,
} as const;

/**
 * A download waiting for a hub slot retries every few seconds up to a minute apart (full jitter) for
 * far longer than any day's run. The bound is the execution history, not patience: Step Functions keeps
 * at most 25,000 events per execution, and each Lambda retry adds three (scheduled, started, failed), so
 * 5,000 attempts (15,000 events) leave room for the rest of the child; at ~30 s on average apart they
 * span about 40 hours, several full days of overlap.
 */
export const SLOT_WAIT_ERROR_NAMES = ["HubSlotsBusyError"] as const;
export const SLOT_WAIT_RETRY = {
  intervalSeconds: 5,
  backoffRate: 2,
  maxDelaySeconds: 60,
  maxAttempts: 5_000,
} as const;

/**
 * A checksum mismatch is retried a few times only (a byte flipped in transit heals on a second
 * download; a product whose bytes never match the published MD5 does not), then becomes terminal.
 * As in Step Functions' Retry, MISMATCH_MAX_ATTEMPTS counts retries: 1 + 2 downloads at most. The
 * checksum is refetched on each (ESA's first published checksum is sometimes wrong).
 */
export const MISMATCH_ERROR_NAMES = ["ChecksumMismatchError"] as const;
export const MISMATCH_MAX_ATTEMPTS = 2;

/** Terminal names: recorded as FAILED at once, for an operator to inspect and redrive. */
export const TERMINAL_ERROR_NAMES = [
  "ChecksumMismatchError",
  "GranuleGoneError",
  "HubAuthError",
  "InvalidHubDataError",
  "InvalidInputError",
  "GranuleNotFoundError",
  "LeaseLostError",
  "ConfigError",
  "HubFramingError",
] as const;

export type RetryableErrorName = (typeof RETRYABLE_ERROR_NAMES)[number];

/** True when `error` is one of ours and the state machine would retry it. */
export function isRetryable(error: unknown): boolean {
  return error instanceof DownloaderError && error.retryable;
}
