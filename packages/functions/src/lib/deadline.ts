import type { Context } from "aws-lambda";

/** Time kept back from the Lambda timeout: enough to checkpoint an upload or a fetch offset and return. */
export const LAMBDA_MARGIN_MS = 60_000;

/**
 * The slice of the Lambda context the handlers use; the local runner may pass none. `killed` is the
 * local runtime's only: it aborts when the invocation ended before the handler (Lambda kills the
 * sandbox instead, so a deployed handler never sees it).
 */
export type LambdaClock = Pick<Context, "getRemainingTimeInMillis"> & { killed?: AbortSignal };

/** Milliseconds this invocation may still work, or undefined without a Lambda context (local: no deadline). */
export function workingTimeMs(context: LambdaClock | undefined): number | undefined {
  if (context === undefined || typeof context.getRemainingTimeInMillis !== "function") return undefined;
  return Math.max(context.getRemainingTimeInMillis() - LAMBDA_MARGIN_MS, 0);
}

/**
 * The signal every await of a handler's work sees: aborted when its working time ends (the margin
 * before Lambda's timeout, so the handler still records its outcome) or its invocation was killed.
 */
export function deadlineSignal(context: LambdaClock | undefined): AbortSignal | undefined {
  const workingMs = workingTimeMs(context);
  const signals = [
    ...(workingMs === undefined ? [] : [AbortSignal.timeout(workingMs)]),
    ...(context?.killed === undefined ? [] : [context.killed]),
  ];
  return signals.length === 0 ? undefined : AbortSignal.any(signals);
}
