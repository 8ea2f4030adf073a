import { setTimeout as sleep } from "node:timers/promises";
import { InvalidInputError, LAMBDA_UNKNOWN } from "@hls-s2/core/errors";
import { asPrincipal } from "./aws-calls";
import type { WorkflowTaskName } from "./workflow";

/**
 * How the local runtime ends an invocation the way Lambda does. Lambda stops a function at its
 * configured timeout (or when it runs out of memory) and Step Functions reports `Lambda.Unknown`:
 * "Unhandled errors in Lambda are reported as `Lambda.Unknown` in the error output. These include
 * out-of-memory errors and function timeouts". Here each invocation races its function's timeout, as
 * synthesized; past it the Task fails with that error and the cause Lambda gives.
 *
 * Lambda then kills the sandbox; in-process the abandoned handler cannot be killed, so it is disarmed:
 * its context's `killed` signal aborts (the handlers join it to their deadline signal, so transfers and
 * hub requests stop), and every AWS call it starts afterwards is refused (see refuseCallsAfterKill).
 * A request already sent stays sent, as on a real network: the server may apply it.
 */
export interface LocalLambdaOptions {
  /**
   * Each function's timeout in seconds where it is not the synthesized one (tests, chaos runs): the
   * handler sees it through its context, as a deployed function sees its configured timeout.
   */
  timeoutSeconds?: Partial<Record<WorkflowTaskName, number>>;
  /**
   * Called as each invocation starts; what it returns applies to that invocation only. The chaos
   * harness's hook: kill an invocation mid-work, or make one hang past its timeout.
   */
  onInvoke?: (
    invocation: LambdaInvocation,
  ) => InvocationFault | undefined | Promise<InvocationFault | undefined>;
}

export interface LambdaInvocation {
  /** The Task state invoking (RecordQueryFailure invokes the FetchPage function). */
  state: string;
  /** The function invoked. */
  functionName: WorkflowTaskName;
  payload: unknown;
  /** The function's timeout in ms. */
  timeoutMs: number;
}

export interface InvocationFault {
  /**
   * Ends the invocation this many ms after it starts, whatever the handler does, as Lambda ends a
   * function that runs out of memory (the handler's context does not know: its remaining time is the
   * timeout's). Reported as Lambda.Unknown with the out-of-memory cause.
   */
  killAfterMs?: number;
  /**
   * Holds the handler's answer this long after it settles (a stuck or slow sandbox); past the timeout
   * the invocation ends Lambda.Unknown "Task timed out" although the handler's work is done.
   */
  delayMs?: number;
  /**
   * Ends the invocation as its timeout does (Lambda.Unknown "Task timed out") once this aborts: for a
   * harness that learns mid-invocation that it stands for one held until Lambda's timeout.
   */
  timeoutSignal?: AbortSignal;
}

/** The Lambda context the local runtime hands a handler: its clock, and the kill of its sandbox. */
export interface LocalLambdaContext {
  getRemainingTimeInMillis(): number;
  /** Aborted when the invocation ends before the handler does (local only: Lambda kills the sandbox). */
  killed: AbortSignal;
}

export type Handler = (event: unknown, context?: LocalLambdaContext) => Promise<unknown>;

/** The default when a function's timeout is unknown: Lambda's maximum. */
const MAX_TIMEOUT_SECONDS = 900;

/**
 * Checks the options up front.
 * @throws InvalidInputError naming a bad timeout or hook.
 */
export function checkLambdaOptions(options: LocalLambdaOptions | undefined): void {
  if (options === undefined) return;
  for (const [name, seconds] of Object.entries(options.timeoutSeconds ?? {})) {
    if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds <= 0 || seconds > 900) {
      throw new InvalidInputError(`lambda.timeoutSeconds.${name} must be a number of seconds in (0, 900]`, {
        field: `lambda.timeoutSeconds.${name}`,
      });
    }
  }
  if (options.onInvoke !== undefined && typeof options.onInvoke !== "function") {
    throw new InvalidInputError("lambda.onInvoke must be a function", { field: "lambda.onInvoke" });
  }
}

/**
 * Invokes `handler` as Lambda would, within its timeout. Returns its answer as JSON carries it.
 * @throws the handler's error as Lambda reports it (name = errorType, message = Lambda's JSON cause),
 *   or a Lambda.Unknown error when the invocation outlived its timeout or was killed.
 */
export async function invokeLambda(args: {
  state: string;
  functionName: WorkflowTaskName;
  handler: Handler;
  payload: unknown;
  /** The function's timeout as synthesized, in seconds. */
  synthesizedTimeoutSeconds: number | undefined;
  options: LocalLambdaOptions | undefined;
}): Promise<unknown> {
  const { state, functionName, handler, payload, options } = args;
  const timeoutSeconds =
    options?.timeoutSeconds?.[functionName] ?? args.synthesizedTimeoutSeconds ?? MAX_TIMEOUT_SECONDS;
  const timeoutMs = timeoutSeconds * 1000;
  const fault = await options?.onInvoke?.({ state, functionName, payload, timeoutMs });
  const started = Date.now();
  const sandbox = new AbortController();
  const context: LocalLambdaContext = {
    getRemainingTimeInMillis: () => Math.max(0, started + timeoutMs - Date.now()),
    killed: sandbox.signal,
  };
  const work = asPrincipal(functionName, () => handler(payload, context), sandbox.signal).finally(
    () => fault?.delayMs !== undefined && sleep(fault.delayMs),
  );
  // The end of a race nobody awaits any more must not become an unhandled rejection.
  work.catch(() => undefined);
  const ends = new AbortController();
  const killed = fault?.killAfterMs !== undefined && fault.killAfterMs < timeoutMs;
  const end = sleep(killed ? fault.killAfterMs! : timeoutMs, "end" as const, { signal: ends.signal }).catch(
    () => undefined,
  );
  const timedOut = fault?.timeoutSignal === undefined ? [] : [abortOf(fault.timeoutSignal, ends.signal)];
  try {
    const winner = await Promise.race([work.then((result) => ({ result })), end, ...timedOut]);
    if (winner === "end" || winner === "timeout" || winner === undefined) {
      const error =
        killed && winner !== "timeout"
          ? lambdaUnknown("Runtime exited with error: signal: killed")
          : lambdaUnknown(
              `${new Date().toISOString()} Task timed out after ${timeoutSeconds.toFixed(2)} seconds`,
            );
      sandbox.abort(error);
      throw error;
    }
    // Lambda returns JSON: drop what JSON drops (undefined, functions) exactly as the service would.
    return JSON.parse(JSON.stringify(winner.result ?? null));
  } catch (error) {
    throw LAMBDA_ERRORS.has(error as Error) ? error : asLambdaError(error);
  } finally {
    ends.abort();
  }
}

/** Settles when `signal` aborts; never once `until` has (the race it was in is over). */
function abortOf(signal: AbortSignal, until: AbortSignal): Promise<"timeout"> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve("timeout");
    else signal.addEventListener("abort", () => resolve("timeout"), { once: true, signal: until });
  });
}

/**
 * What Step Functions records when Lambda ended the function itself (no error type returned): Error
 * `Lambda.Unknown`, and a Cause quoting the payload Lambda returned, as seen in execution histories.
 */
function lambdaUnknown(errorMessage: string): Error {
  const payload = JSON.stringify({ errorMessage });
  const error = new Error(
    `The cause could not be determined because Lambda did not return an error type. Returned payload: ${payload}`,
  );
  error.name = LAMBDA_UNKNOWN;
  LAMBDA_ERRORS.add(error);
  return error;
}

/**
 * Lambda reports a function error to Step Functions as Error = errorType and Cause = a JSON string
 * `{errorType, errorMessage, trace}`; the local engine uses the thrown error's name and message, so
 * build exactly that and a child's history (and the ResultWriter's FAILED file) show what AWS shows.
 */
const LAMBDA_ERRORS = new WeakSet<Error>();

function asLambdaError(error: unknown): Error {
  const original = error instanceof Error ? error : new Error(String(error));
  const cause = JSON.stringify({
    errorType: original.name,
    errorMessage: original.message,
    trace: (original.stack ?? "").split("\n"),
  });
  const lambdaError = new Error(cause, { cause: original });
  lambdaError.name = original.name;
  LAMBDA_ERRORS.add(lambdaError);
  return lambdaError;
}

/** True for an error invokeLambda built (the engine wraps them; originalError unwraps to the handler's). */
export function isLambdaError(error: unknown): error is Error {
  return error instanceof Error && LAMBDA_ERRORS.has(error);
}
