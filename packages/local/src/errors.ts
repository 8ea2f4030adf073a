// The local mode's own errors: no Lambda throws them, so they stay out of core's error contract
// (ERROR_CLASSES, from which the state machine's Retry and Catch lists are derived).

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
 * A local-mode data folder is held by another live run (its lock file names the holder's PID), so this
 * run could not start: the folder's table and buckets are the holder's until it ends.
 */
export class DataFolderInUseError extends Error {
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
