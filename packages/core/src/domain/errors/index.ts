import { RETRY_KINDS, type RetryKind } from "./contract";
import {
  ChecksumNotPublishedError,
  GranuleGoneError,
  GranuleOfflineError,
  HubAnswerTooLargeError,
  HubAuthError,
  HubFramingError,
  HubSessionsExhaustedError,
  HubSlotsBusyError,
  HubThrottledError,
  HubUnavailableError,
  InvalidHubDataError,
} from "./hub";
import { ConfigError, InvalidInputError } from "./input";
import { LAMBDA_UNKNOWN } from "./states";
import { AwsUnavailableError, GranuleNotFoundError, LeaseLostError, ManifestIncompleteError } from "./store";
import {
  ArchiveInvalidError,
  ChecksumMismatchError,
  ConditionalWriteConflictError,
  TransferInterruptedError,
  TransferTooSlowError,
  UploadOutcomeUnknownError,
} from "./transfer";

export * from "./contract";
export * from "./hub";
export * from "./input";
export * from "./states";
export * from "./store";
export * from "./transfer";

/**
 * Every error a handler may end with, keyed by the `name` it sets (errors.test.ts checks each key
 * against an instance). The lists below are derived from their classes' `retry`, in this order.
 */
export const ERROR_CLASSES = {
  HubThrottledError,
  HubUnavailableError,
  ChecksumNotPublishedError,
  TransferInterruptedError,
  TransferTooSlowError,
  ConditionalWriteConflictError,
  HubAnswerTooLargeError,
  GranuleOfflineError,
  AwsUnavailableError,
  HubSlotsBusyError,
  HubSessionsExhaustedError,
  ChecksumMismatchError,
  ArchiveInvalidError,
  GranuleGoneError,
  HubAuthError,
  InvalidHubDataError,
  InvalidInputError,
  GranuleNotFoundError,
  LeaseLostError,
  ConfigError,
  HubFramingError,
  UploadOutcomeUnknownError,
  ManifestIncompleteError,
} as const;

type ErrorClasses = typeof ERROR_CLASSES;
export type DownloaderErrorName = keyof ErrorClasses;

/** The names of the classes whose `retry` is one of `kinds`. */
export type ErrorNameOf<Kinds extends RetryKind> = {
  [Name in DownloaderErrorName]: ErrorClasses[Name]["retry"] extends Kinds ? Name : never;
}[DownloaderErrorName];

/**
 * The error names whose class declares one of `kinds`, in ERROR_CLASSES order; never empty (a Retry
 * with no names is no Retry).
 */
export function errorNamesOf<const Kinds extends RetryKind>(
  ...kinds: Kinds[]
): readonly [ErrorNameOf<Kinds>, ...ErrorNameOf<Kinds>[]] {
  const names = (Object.keys(ERROR_CLASSES) as DownloaderErrorName[]).filter((name) =>
    (kinds as RetryKind[]).includes(ERROR_CLASSES[name].retry),
  );
  if (names.length === 0) throw new Error(`no error class declares retry ${kinds.join(" or ")}`);
  return names as [ErrorNameOf<Kinds>, ...ErrorNameOf<Kinds>[]];
}

/** Error names the state machine retries with exponential backoff and jitter (the stack's generic Retry). */
export const RETRYABLE_ERROR_NAMES = errorNamesOf("backoff");
export type RetryableErrorName = (typeof RETRYABLE_ERROR_NAMES)[number];

/** Error names of the Download's Retry while the identity service refuses sessions (SESSIONS_EXHAUSTED_RETRY). */
export const SESSIONS_EXHAUSTED_ERROR_NAMES = errorNamesOf("sessionsExhausted");

/** Error names of the Download's Retry while every hub slot is held (SLOT_WAIT_RETRY). */
export const SLOT_WAIT_ERROR_NAMES = errorNamesOf("slotWait");

/** Error names of the Download's short Retry of a fresh download (MISMATCH_MAX_ATTEMPTS). */
export const MISMATCH_ERROR_NAMES = errorNamesOf("mismatch");

/**
 * Names no catch-all retrier may repeat: every kind that is not transient (terminal, unretried, and
 * mismatch, whose own short retrier comes first). A retrier with MaxAttempts 0 listing them stands
 * before the UNHANDLED_ERROR_NAMES retrier, because Step Functions uses the first retrier that matches.
 */
export const FINAL_ERROR_NAMES = errorNamesOf(
  ...(Object.keys(RETRY_KINDS) as RetryKind[]).filter((kind) => !RETRY_KINDS[kind].transient),
);

/**
 * Errors that concern every query of a run, not one (credentials refused, a bad setting): a search
 * failing with one fails the execution at FetchLinks, before any download meets the same refusal,
 * for an operator to fix and Redrive (which re-runs the search itself).
 */
export const RUN_STOPPING_ERROR_NAMES = [
  "HubAuthError",
  "ConfigError",
] as const satisfies readonly DownloaderErrorName[];

/**
 * What ends one (day, platform) search for good without failing the run (FetchLinks' Catch): any of our
 * errors but the run-stopping ones, and a Lambda ended by its timeout or out of memory. Listed, not
 * States.ALL, which would also catch the run-stopping names.
 */
export const QUERY_FAILURE_ERROR_NAMES = [
  ...(Object.keys(ERROR_CLASSES) as DownloaderErrorName[]).filter(
    (name) => !(RUN_STOPPING_ERROR_NAMES as readonly string[]).includes(name),
  ),
  LAMBDA_UNKNOWN,
] as const;

type TerminalKind = {
  [Kind in RetryKind]: (typeof RETRY_KINDS)[Kind]["terminal"] extends true ? Kind : never;
}[RetryKind];

/** Terminal names: a granule recorded FAILED with one stays FAILED for later runs (see RETRY_KINDS). */
export const TERMINAL_ERROR_NAMES = errorNamesOf(
  ...(Object.keys(RETRY_KINDS) as RetryKind[]).filter(
    (kind): kind is TerminalKind => RETRY_KINDS[kind].terminal,
  ),
);

/**
 * The names of the "not yet" answers (classes declaring `waits`): a FAILED record naming one is still
 * pending whatever its attempts, and the next claim of it counts no attempt, so a day of unpublished
 * checksums or throttling never exhausts MAX_ATTEMPTS (5-minute push runs would in under an hour).
 */
export const WAITING_ERROR_NAMES = (Object.keys(ERROR_CLASSES) as DownloaderErrorName[]).filter(
  (name) => ERROR_CLASSES[name].waits,
);
