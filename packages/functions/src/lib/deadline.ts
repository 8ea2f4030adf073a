import type { Context } from "aws-lambda";

/** Time kept back from the Lambda timeout: enough to checkpoint an upload or a fetch offset and return. */
export const LAMBDA_MARGIN_MS = 60_000;

/** The slice of the Lambda context the handlers use; the local runner may pass none. */
export type LambdaClock = Pick<Context, "getRemainingTimeInMillis">;

/** Milliseconds this invocation may still work, or undefined without a Lambda context (local: no deadline). */
export function workingTimeMs(context: LambdaClock | undefined): number | undefined {
  if (context === undefined || typeof context.getRemainingTimeInMillis !== "function") return undefined;
  return Math.max(context.getRemainingTimeInMillis() - LAMBDA_MARGIN_MS, 0);
}
