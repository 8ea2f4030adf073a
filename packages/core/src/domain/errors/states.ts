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
