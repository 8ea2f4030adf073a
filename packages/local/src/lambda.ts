import { setTimeout as sleep } from "node:timers/promises";
import type { WorkflowTaskName } from "./workflow";

// The `ends` helper's branch has this API at this path with the full emulation (every invocation ends at
// its function's timeout, an abandoned handler is disarmed). This is the chaos run's subset, standing in
// until that is in main: only the invocations `onInvoke` picks are ended. On merge keep theirs.

/** How local invocations end: a hook that kills an invocation or holds its answer. */
export interface LocalLambdaOptions {
  /** Called as each invocation starts; what it returns applies to that invocation only. */
  onInvoke?: (
    invocation: LambdaInvocation,
  ) => InvocationFault | undefined | Promise<InvocationFault | undefined>;
}

export interface LambdaInvocation {
  /** The Task state invoking. */
  state: string;
  /** The function invoked. */
  functionName: WorkflowTaskName;
  payload: unknown;
  /** The function's timeout in ms. */
  timeoutMs: number;
}

export interface InvocationFault {
  /** Ends the invocation this many ms after it starts, whatever the handler does (Lambda.Unknown). */
  killAfterMs?: number;
  /** Holds the handler's answer this long after it settles; past the timeout the Task fails Lambda.Unknown. */
  delayMs?: number;
}

/**
 * Runs one invocation under the fault `onInvoke` picked for it. AWS: "Unhandled errors in Lambda are
 * reported as `Lambda.Unknown` in the error output. These include out-of-memory errors and function
 * timeouts." A killed handler is abandoned, not stopped: it runs on until its calls fail.
 */
export async function underFault<T>(
  fault: InvocationFault | undefined,
  timeoutMs: number,
  invoke: () => Promise<T>,
): Promise<T> {
  if (fault === undefined) return invoke();
  const started = Date.now();
  const work = invoke().finally(() => (fault.delayMs === undefined ? undefined : sleep(fault.delayMs)));
  work.catch(() => undefined);
  const killed = fault.killAfterMs !== undefined && fault.killAfterMs < timeoutMs;
  const ends = new AbortController();
  const end = sleep(killed ? fault.killAfterMs! : timeoutMs, "end" as const, { signal: ends.signal }).catch(
    () => undefined,
  );
  try {
    const winner = await Promise.race([work.then((result) => ({ result })), end]);
    if (winner === "end" || winner === undefined) {
      throw lambdaUnknown(
        killed
          ? "Runtime exited with error: signal: killed"
          : `Task timed out after ${((Date.now() - started) / 1000).toFixed(2)} seconds`,
      );
    }
    return winner.result;
  } finally {
    ends.abort();
  }
}

/** What Step Functions records when Lambda ended the function itself (no error type returned). */
function lambdaUnknown(errorMessage: string): Error {
  const error = new Error(
    `The cause could not be determined because Lambda did not return an error type. Returned payload: ${JSON.stringify({ errorMessage })}`,
  );
  error.name = "Lambda.Unknown";
  return error;
}
