import type { GranuleStore } from "../adapters/store/store";
import type { QueryFailure } from "../domain/tally";
import type { DayQuery } from "./generate-queries";

/** Characters of a failure's cause kept on the counter item: the message, not a stack trace. */
export const MAX_CAUSE_CHARS = 1_000;

/** The error output of a Step Functions Catch: `{Error, Cause}`. */
export interface CaughtError {
  Error: string;
  Cause?: string;
}

/**
 * Records that a (day, platform) search failed for good (the state machine caught its error after the
 * retries), on the query's counter item, and returns what it recorded. Lambda's Cause is a JSON text
 * `{errorType, errorMessage, trace}`: its errorMessage is kept, the trace dropped.
 */
export async function recordQueryFailure(
  input: { query: DayQuery; caught: CaughtError; executionName?: string },
  deps: { store: Pick<GranuleStore, "recordFetchFailure"> },
): Promise<QueryFailure> {
  const { query, caught, executionName } = input;
  return deps.store.recordFetchFailure(query.day, query.platform, {
    error: caught.Error,
    cause: causeMessage(caught.Cause).slice(0, MAX_CAUSE_CHARS),
    ...(executionName !== undefined && { executionName }),
  });
}

function causeMessage(cause: string | undefined): string {
  if (cause === undefined) return "";
  try {
    const parsed: unknown = JSON.parse(cause);
    const message = (parsed as { errorMessage?: unknown } | null)?.errorMessage;
    if (typeof message === "string") return message;
  } catch {
    // Not Lambda's JSON (States.Timeout, a Step Functions error): the text itself.
  }
  return cause;
}
