/**
 * The error contract: how the state machine treats each of the downloader's errors. Step Functions
 * `Retry` and `Catch` match on `error.name`, so each class sets it explicitly (minifiers and bundlers
 * rename classes) and declares its `retry` kind once; the Retry lists the stack builds are derived
 * from those declarations (see ./index.ts), so code and state machine cannot drift.
 */

/**
 * What each retry kind means. `transient`: the failure may pass by itself, so a hub call retries it
 * in the Lambda and a transfer keeps its upload to resume (the instance's `retryable`). `terminal`:
 * a granule recorded FAILED with it stays FAILED for later runs (only an operator's requeue, or the one
 * late try of a checksum mismatch, brings it back).
 */
export const RETRY_KINDS = {
  /** The Download and FetchPage Retry with exponential backoff and full jitter. */
  backoff: { transient: true, terminal: false },
  /** The Download's long Retry while every hub slot is held (SLOT_WAIT_RETRY). */
  slotWait: { transient: true, terminal: false },
  /** The Download's Retry while the identity service refuses new sessions (SESSIONS_EXHAUSTED_RETRY). */
  sessionsExhausted: { transient: true, terminal: false },
  /** The Download's short Retry of a fresh download (MISMATCH_MAX_ATTEMPTS); terminal afterwards. */
  mismatch: { transient: false, terminal: true },
  /** No Retry; recorded FAILED at once, for an operator to inspect and redrive. */
  terminal: { transient: false, terminal: true },
  /** No Retry, and not terminal: a later run tries the granule again while it has attempts left. */
  unretried: { transient: false, terminal: false },
} as const satisfies Record<string, { transient: boolean; terminal: boolean }>;

export type RetryKind = keyof typeof RETRY_KINDS;

/** Base class: a typed, named error whose `cause` chains, with its retry kind declared on the class. */
export abstract class DownloaderError extends Error {
  /** How the state machine treats this error; every concrete class declares it. */
  declare static readonly retry: RetryKind;
  /**
   * A "not yet" answer rather than a failure (the checksum is not published, the product is offline, the
   * hub throttles, every slot or session is taken): the granule waits, and waiting never uses up one of
   * its MAX_ATTEMPTS (see WAITING_ERROR_NAMES). Declared true by those classes only.
   */
  static readonly waits: boolean = false;
  /** Whether the failure may pass by itself (RETRY_KINDS[retry].transient): hub calls retry it in place. */
  readonly retryable: boolean;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.retryable = RETRY_KINDS[(new.target as unknown as { retry: RetryKind }).retry].transient;
  }
}

/** True when `error` is one of ours and may pass by itself (see RETRY_KINDS). */
export function isRetryable(error: unknown): boolean {
  return error instanceof DownloaderError && error.retryable;
}

/**
 * A transient hub or transfer failure (the `backoff` kind): 5 s doubling to at most 5 min, 6 retries
 * (about 10 min in all, less under full jitter), enough to ride out a hub's short outage or a 429
 * burst; a longer outage fails the child for a Redrive.
 */
export const BACKOFF_RETRY = {
  intervalSeconds: 5,
  backoffRate: 2,
  maxDelaySeconds: 300,
  maxAttempts: 6,
} as const;

/**
 * A Lambda that ended without a typed error: killed at its timeout or out of memory (Step Functions
 * reports `Lambda.Unknown`), or a plain error of a library (`States.TaskFailed` matches any task error
 * but States.Timeout). Download and FetchPage retry these a few times, because both tasks are
 * idempotent (a download re-claims its own lease and resumes its upload; a fetch resumes from its
 * stored offset): 10 s, doubling, 3 retries.
 */
export const UNHANDLED_RETRY = {
  intervalSeconds: 10,
  backoffRate: 2,
  maxDelaySeconds: 120,
  maxAttempts: 3,
} as const;

/**
 * Too many sessions clears when sessions expire (CDSE: access tokens live 10 min, refresh tokens 60):
 * its own Retry waits 30 s, doubling up to 5 min, 12 times (about 50 min at most, half that on
 * average under full jitter) before the granule is recorded failed.
 */
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
export const MISMATCH_MAX_ATTEMPTS = 2;
/** Seconds before the second download of a mismatched product: no wait is needed, only a new body. */
export const MISMATCH_RETRY_INTERVAL_SECONDS = 1;

/** A Retry's policy as the stack writes it: first interval, growth, cap and number of retries. */
export interface RetryPolicy {
  intervalSeconds: number;
  backoffRate: number;
  maxDelaySeconds: number;
  maxAttempts: number;
}

/** The longest a Retry waits in all, seconds: every interval at its cap (full jitter only shortens them). */
export function retryLadderSeconds(policy: RetryPolicy): number {
  let total = 0;
  for (let retry = 0; retry < policy.maxAttempts; retry++) {
    total += Math.min(policy.intervalSeconds * policy.backoffRate ** retry, policy.maxDelaySeconds);
  }
  return total;
}

/**
 * The longest a Download child can wait between two attempts at its granule, seconds: each of its
 * retriers counts its own retries, so their ladders end to end (the slot wait's ~83 h dominates). An
 * upload idle longer than this plus a lease has no child left to resume it.
 */
export const DOWNLOAD_RETRY_LADDER_SECONDS =
  retryLadderSeconds(BACKOFF_RETRY) +
  retryLadderSeconds(SESSIONS_EXHAUSTED_RETRY) +
  retryLadderSeconds(SLOT_WAIT_RETRY) +
  MISMATCH_MAX_ATTEMPTS * MISMATCH_RETRY_INTERVAL_SECONDS;
