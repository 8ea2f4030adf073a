import type { GranuleStore } from "../adapters/store/store";

/** Where a download reports progress; Powertools' Logger fits. */
export interface DownloadLogger {
  info(message: string, ...extra: Record<string, unknown>[]): void;
}

export interface RecordFailureDeps {
  store: Pick<GranuleStore, "markFailed">;
  /** Where a failure to record is reported. */
  logger?: DownloadLogger;
}

/**
 * Records a failed download attempt FAILED with the error's name and message before the error reaches
 * Step Functions. Done on every failed attempt, also one a Retry will repeat: nothing in the Lambda
 * knows whether a retrier has attempts left, and the Retry (same owner) re-claims this record without
 * counting an attempt (see GranuleStore.claimGranule). A failure to record is logged, never thrown in
 * place of the download's error, whose name the Retry matches on; the lease then lapses and the
 * granule is pending again.
 */
export async function recordFailure(
  input: { granuleId: string; owner: string; error: unknown },
  deps: RecordFailureDeps,
): Promise<void> {
  const { granuleId, owner, error } = input;
  const failure = { name: error instanceof Error ? error.name : "Error", message: errorMessage(error) };
  try {
    await deps.store.markFailed(granuleId, failure, { owner });
  } catch (recordError) {
    deps.logger?.info("could not record the failed attempt", {
      granuleId,
      error: failure,
      recordError: errorMessage(recordError),
    });
  }
}

/** The message a record or a log line keeps of anything thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
