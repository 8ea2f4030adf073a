// @hls-s2/core/errors: The error contract: the error classes and the Retry/Catch name lists the state machine is built from.
// What other packages import; core's own modules and tests import the modules themselves.

export type { ConfigIssue, RetryKind } from "../domain/errors";
export {
  BACKOFF_RETRY,
  ConfigError,
  DownloaderError,
  describeIssues,
  ERROR_CLASSES,
  errorNamesOf,
  FINAL_ERROR_NAMES,
  GranuleGoneError,
  HubSlotsBusyError,
  HubUnavailableError,
  InvalidHubDataError,
  InvalidInputError,
  LAMBDA_UNKNOWN,
  MISMATCH_ERROR_NAMES,
  MISMATCH_MAX_ATTEMPTS,
  MISMATCH_RETRY_INTERVAL_SECONDS,
  QUERY_FAILURE_ERROR_NAMES,
  RETRYABLE_ERROR_NAMES,
  RUN_STOPPING_ERROR_NAMES,
  SESSIONS_EXHAUSTED_ERROR_NAMES,
  SESSIONS_EXHAUSTED_RETRY,
  SLOT_WAIT_ERROR_NAMES,
  SLOT_WAIT_RETRY,
  TERMINAL_ERROR_NAMES,
  UNHANDLED_ERROR_NAMES,
  UNHANDLED_RETRY,
} from "../domain/errors";
