/**
 * The error names of a Lambda task that ended without one of our errors, as Step Functions reports
 * them: "Unhandled errors in Lambda are reported as `Lambda.Unknown` in the error output. These include
 * out-of-memory errors and function timeouts. You can match on `Lambda.Unknown`, `States.ALL`, or
 * `States.TaskFailed` to handle these errors" (Step Functions, Lambda integration). `States.TaskFailed`
 * "acts as a wildcard that matches any known error name except for States.Timeout", so the retrier that
 * names it must come after one that stops every name it must not repeat (FINAL_ERROR_NAMES).
 * The local runtime raises `Lambda.Unknown` where Lambda would (a handler outliving its timeout).
 */
export const UNHANDLED_ERROR_NAMES = ["Lambda.Unknown", "States.TaskFailed"] as const;

/** What Lambda reports when a function outlives its timeout (the local runtime reports the same). */
export const LAMBDA_UNKNOWN: (typeof UNHANDLED_ERROR_NAMES)[0] = UNHANDLED_ERROR_NAMES[0];
