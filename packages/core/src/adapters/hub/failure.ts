import { RequestError } from "got";
import {
  HubAuthError,
  HubThrottledError,
  HubUnavailableError,
  InvalidHubDataError,
} from "../../domain/errors";

/** What a hub request was, for the error its refusal becomes. */
export interface HubStatusContext {
  /** Request method; default GET. */
  method?: string;
  /** The request's URL, redacted (see redactUrl). */
  where: string;
  /** The answer's Retry-After header, read on a 429. */
  retryAfter?: string | readonly string[];
  /** The hub's own words (FastAPI's `detail`), appended when they help an operator; never our secrets. */
  detail?: string;
  /** The error for 404/410 (the product was withdrawn); default `refusedError`. */
  goneError?: (status: number) => Error;
  /** The error for any other refusal; default InvalidHubDataError (the hub's contract drifted). */
  refusedError?: (message: string, status: number) => Error;
  /** Clock of the Retry-After date, in epoch ms. */
  now?: number;
}

/**
 * The one mapping of a hub's HTTP status to our errors: 401/403 HubAuthError, 429 HubThrottledError
 * (with its Retry-After), 408 and 5xx HubUnavailableError, 404/410 `goneError`, anything else
 * `refusedError`. Every hub client (search, checksum, download, subscriptions) throws what this returns.
 */
export function hubStatusError(status: number, context: HubStatusContext): Error {
  const { where, detail, goneError } = context;
  const method = context.method ?? "GET";
  const said = detail === undefined || detail === "" ? "" : `: ${detail}`;
  const refused =
    context.refusedError ?? ((message: string) => new InvalidHubDataError(message, { url: where }));
  if (status === 401 || status === 403) {
    return new HubAuthError(`${method} ${where} refused the credentials (HTTP ${status})${said}`, {
      status,
      url: where,
    });
  }
  if (status === 404 || status === 410) {
    return goneError?.(status) ?? refused(`${method} ${where} answered HTTP ${status}${said}`, status);
  }
  if (status === 429) {
    const retryAfter = typeof context.retryAfter === "string" ? context.retryAfter : context.retryAfter?.[0];
    const retryAfterSeconds = parseRetryAfter(retryAfter, context.now);
    return new HubThrottledError(
      `${method} ${where} was throttled (HTTP 429${retryAfterSeconds === undefined ? "" : `, retry after ${retryAfterSeconds} s`})${said}`,
      { retryAfterSeconds, url: where },
    );
  }
  if (status >= 500 || status === 408) {
    return new HubUnavailableError(`${method} ${where} failed with HTTP ${status}${said}`, {
      status,
      url: where,
    });
  }
  return refused(`${method} ${where} answered unexpected HTTP ${status}${said}`, status);
}

/**
 * Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date), or undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/** A transport failure (no usable response): timeouts, resets, refused connections, redirect loops. */
export function requestFailure(
  error: unknown,
  where: string,
  signal: AbortSignal | undefined,
  auth: Record<string, string>,
): unknown {
  if (signal?.aborted) return signal.reason;
  const code = error instanceof RequestError ? error.code : undefined;
  const cause = sanitizedCause(error, auth);
  if (code === "ERR_TOO_MANY_REDIRECTS") {
    return new InvalidHubDataError(`GET ${where} redirected too many times`, { url: where, cause });
  }
  return new HubUnavailableError(`GET ${where} failed: ${cause.message}`, { url: where, cause });
}

/**
 * got's errors hold the request options, Authorization header included; a logger that serializes the
 * cause chain would print it. Keep only the code and a message scrubbed of the auth header values.
 */
export function sanitizedCause(error: unknown, auth: Record<string, string>): Error {
  const code =
    typeof error === "object" && error !== null && "code" in error ? String(error.code) : undefined;
  let message = error instanceof Error ? error.message : String(error);
  for (const value of Object.values(auth)) {
    if (value !== "") message = message.split(value).join("<redacted>");
  }
  message = message.replace(/\/\/[^/@\s]*@/g, "//");
  const cause = new Error(code === undefined || message.includes(code) ? message : `${code}: ${message}`);
  cause.name = error instanceof Error ? error.name : "Error";
  return cause;
}
