import { DownloaderError } from "./contract";

// Errors of the hubs (DHuS, CDSE): their answers, their refusals, their quota.

/** The hub answered 429; `retryAfterSeconds` is its Retry-After when it sent one. */
export class HubThrottledError extends DownloaderError {
  static override readonly retry = "backoff";
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
  static override readonly retry = "backoff";
  readonly status?: number;
  readonly url?: string;
  constructor(message: string, options?: ErrorOptions & { status?: number; url?: string }) {
    super(message, options);
    this.name = "HubUnavailableError";
    this.status = options?.status;
    this.url = options?.url;
  }
}

/**
 * A hub answered a JSON document (search page, checksum, token) larger than the configured cap
 * (HUB_MAX_JSON_BYTES). Read as a stream and cut at the cap, so an endless body costs at most the cap
 * in memory; retryable, because a proxy's error page or a broken stream heals more often than not.
 */
export class HubAnswerTooLargeError extends DownloaderError {
  static override readonly retry = "backoff";
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
 * The identity service refused a token grant because the account holds too many sessions (Keycloak's
 * "User session count limiter" with "Deny new session" answers a password grant HTTP 403 with error
 * "sessionLimitExceeded" or the realm's own message). Not bad credentials: sessions expire by themselves
 * (CDSE: 10 min access, 60 min refresh), so the state machine backs off and tries again.
 */
export class HubSessionsExhaustedError extends DownloaderError {
  static override readonly retry = "sessionsExhausted";
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
  static override readonly retry = "slotWait";
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

/** The hub refused our credentials (401/403 after any refresh). Terminal: an operator must fix the secret. */
export class HubAuthError extends DownloaderError {
  static override readonly retry = "terminal";
  readonly status?: number;
  readonly url?: string;
  constructor(message: string, options?: ErrorOptions & { status?: number; url?: string }) {
    super(message, options);
    this.name = "HubAuthError";
    this.status = options?.status;
    this.url = options?.url;
  }
}

/** The hub has not published the granule's MD5 yet (CDSE: hours after publication). Retry later, never guess. */
export class ChecksumNotPublishedError extends DownloaderError {
  static override readonly retry = "backoff";
  readonly granuleId: string;
  /** The BLAKE3 (lowercase hex) the hub publishes in the MD5's place, when it does (CDSE). */
  readonly blake3?: string;
  constructor(granuleId: string, options?: ErrorOptions & { blake3?: string }) {
    super(`checksum of granule ${granuleId} is not published yet`, options);
    this.name = "ChecksumNotPublishedError";
    this.granuleId = granuleId;
    if (options?.blake3 !== undefined) this.blake3 = options.blake3;
  }
}

/**
 * The hub lists the product but does not serve it yet (CDSE `Online: false`: in the long-term
 * archive or not yet on the download service). The granule stays recorded; retried until online.
 */
export class GranuleOfflineError extends DownloaderError {
  static override readonly retry = "backoff";
  readonly granuleId: string;
  constructor(granuleId: string, options?: ErrorOptions) {
    super(`granule ${granuleId} is offline at the hub (Online: false); retry once it is online`, options);
    this.name = "GranuleOfflineError";
    this.granuleId = granuleId;
  }
}

/** The hub answered 404 or 410: the product was withdrawn. Terminal. */
export class GranuleGoneError extends DownloaderError {
  static override readonly retry = "terminal";
  readonly granuleId: string;
  readonly status: number;
  constructor(granuleId: string, status: number, options?: ErrorOptions) {
    super(`granule ${granuleId} is gone from the hub (HTTP ${status})`, options);
    this.name = "GranuleGoneError";
    this.granuleId = granuleId;
    this.status = status;
  }
}

/** A hub answer failed validation (malformed JSON, missing field, unsafe name, non-hex checksum). Terminal. */
export class InvalidHubDataError extends DownloaderError {
  static override readonly retry = "terminal";
  readonly url?: string;
  readonly granuleId?: string;
  constructor(message: string, options?: ErrorOptions & { url?: string; granuleId?: string }) {
    super(message, options);
    this.name = "InvalidHubDataError";
    this.url = options?.url;
    this.granuleId = options?.granuleId;
  }
}

/**
 * The hub framed a download body inconsistently (body longer or shorter than its Content-Length,
 * bytes past the catalogue size, a Content-Length the catalogue size contradicts) on the first try
 * and again on a clean retry. Terminal: fetching the same lie again costs a whole product each time.
 * No multipart upload is left behind.
 */
export class HubFramingError extends DownloaderError {
  static override readonly retry = "terminal";
  readonly granuleId: string;
  constructor(granuleId: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HubFramingError";
    this.granuleId = granuleId;
  }
}
