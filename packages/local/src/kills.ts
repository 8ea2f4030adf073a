import type { WorkflowTaskName } from "./workflow";

/**
 * How Lambda's timeout ends one invocation (fault injection):
 * - `before`: killed before the handler did anything (it outlived its timeout waiting, e.g. on a cold start);
 * - `after`: the handler did all its work, but the answer came after the timeout, so it is lost;
 * - `{ timeoutMs }`: the invocation's timeout is this long; a handler still running then (e.g. on a
 *   stalled S3 part) is ended there: its effects so far stay, and no later await of it matters to the run.
 */
export type InvocationKill = "before" | "after" | { timeoutMs: number };

/** Picks the Task invocations a kill hits; undefined lets the invocation run as usual. */
export type InvocationFault = (call: {
  task: WorkflowTaskName;
  payload: unknown;
  executionName: string;
}) => InvocationKill | undefined;

/**
 * What AWS reports for a function its timeout ended: "Unhandled errors in Lambda are reported as
 * `Lambda.Unknown` in the error output. These include out-of-memory errors and function timeouts."
 */
export class LambdaTimeoutError extends Error {
  constructor(seconds: number) {
    super(`Task timed out after ${seconds.toFixed(2)} seconds`);
    this.name = "Lambda.Unknown";
  }
}

/** Runs one invocation under the kill `fault` picked for it, if any. */
export async function underKill<T>(
  kill: InvocationKill | undefined,
  timeoutSeconds: number,
  invoke: () => Promise<T>,
): Promise<T> {
  if (kill === undefined) return invoke();
  if (kill === "before") throw new LambdaTimeoutError(timeoutSeconds);
  if (kill === "after") {
    await invoke().catch(() => undefined);
    throw new LambdaTimeoutError(timeoutSeconds);
  }
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LambdaTimeoutError(kill.timeoutMs / 1000)), kill.timeoutMs);
  });
  // A real kill stops the process; here the handler's promise is abandoned and its late rejection ignored.
  const running = invoke();
  running.catch(() => undefined);
  try {
    return await Promise.race([running, killed]);
  } finally {
    clearTimeout(timer);
  }
}
