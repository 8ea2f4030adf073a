import { setTimeout as sleep } from "node:timers/promises";
import pRetry, { AbortError } from "p-retry";
import { HubThrottledError, isRetryable } from "../../domain/errors";

/** How a hub call is retried: p-retry's attempts, exponential backoff and jitter, plus Retry-After. */
export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** First backoff delay; doubled per retry and multiplied by a random factor in [1, 2) (jitter). */
  minTimeoutMs: number;
  /** Longest backoff delay. */
  maxTimeoutMs: number;
  /** A Retry-After longer than this is not waited out: the error surfaces at once. Default 0. */
  maxRetryAfterSeconds?: number;
  /** Stops the attempt in flight (the caller passes it to the request) and any wait, with its reason. */
  signal?: AbortSignal;
  /** Which failures are retried; default the error class's own retryability (`isRetryable`). */
  retryable?: (error: unknown) => boolean;
  /** Sees every failed attempt that was not stopped by the signal, retried or not (metrics). */
  onFailure?: (error: Error) => void;
}

/**
 * Runs `attempt` under p-retry, the one retry engine of hub HTTP. A HubThrottledError's Retry-After
 * is waited out first (up to `maxRetryAfterSeconds`), then p-retry's own jittered backoff, which
 * spreads the workers a hub told the same instant. Nothing waits past the signal.
 * @throws the last attempt's error; the signal's reason when it aborted.
 */
export function withRetries<T>(policy: RetryPolicy, attempt: () => Promise<T>): Promise<T> {
  const { signal } = policy;
  const retryable = policy.retryable ?? isRetryable;
  return pRetry(
    async () => {
      try {
        return await attempt();
      } catch (error) {
        if (signal?.aborted) throw new AbortError(asError(signal.reason));
        policy.onFailure?.(asError(error));
        // p-retry's AbortError means "do not retry": it rethrows the error it wraps.
        if (!retryable(error)) throw new AbortError(asError(error));
        throw error;
      }
    },
    {
      retries: policy.retries,
      factor: 2,
      minTimeout: policy.minTimeoutMs,
      maxTimeout: policy.maxTimeoutMs,
      randomize: true,
      signal,
      onFailedAttempt: async ({ error, retriesLeft }) => {
        if (!(error instanceof HubThrottledError) || error.retryAfterSeconds === undefined) return;
        // A Lambda must not burn its time budget asleep: the state machine retries it later instead.
        if (error.retryAfterSeconds > (policy.maxRetryAfterSeconds ?? 0)) throw error;
        if (retriesLeft <= 0) return;
        await sleep(error.retryAfterSeconds * 1000, undefined, { signal }).catch((sleepError: unknown) => {
          // node:timers/promises rejects with its own AbortError; the caller expects the signal's reason.
          throw signal?.aborted ? signal.reason : sleepError;
        });
      },
    },
  );
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
