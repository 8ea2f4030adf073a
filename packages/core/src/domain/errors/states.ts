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
