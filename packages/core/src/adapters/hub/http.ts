import type { IncomingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import got, { type Request } from "got";
import {
  DownloaderError,
  GranuleGoneError,
  HubUnavailableError,
  InvalidInputError,
} from "../../domain/errors";
import { hubResponseMetric, hubStatusClass, type MetricSink } from "../../domain/metrics";
import { type Authorizer, carryAuthOnTrustedRedirect, resolveAuth } from "./auth";
import { parseContentLength, parseContentRange, readCapped } from "./body";
import { hubStatusError, requestFailure, sanitizedCause } from "./failure";
import type { DownloadStream } from "./hub";
import { type RetryPolicy, withRetries } from "./retry";
import { redactUrl } from "./url";

/** Retry and timeout tuning of hub requests; tests make the delays small. */
export interface HttpTuning {
  /** Retries after the first attempt for retryable failures (429, 5xx, timeouts, resets). Default 4. */
  retries?: number;
  /** First backoff delay, doubled per retry, times a random factor in [1, 2). Default 500 (0.5–1 s). */
  minTimeoutMs?: number;
  /** Longest backoff delay. Default 30000. */
  maxTimeoutMs?: number;
  /**
   * Longest Retry-After we wait out in-process. A longer one is not slept through (a Lambda would
   * burn its time budget): the HubThrottledError surfaces so the state machine retries later. Default 120.
   */
  maxRetryAfterSeconds?: number;
  /** getJson: whole request; openStream: until the response headers. Default 60000. */
  timeoutMs?: number;
  /** openStream: longest silence of the socket while the body flows. Default 60000. */
  idleTimeoutMs?: number;
  /**
   * getJson: largest JSON answer read, in bytes (after decompression). A body beyond it is cut
   * where it crosses the cap and refused with HubAnswerTooLargeError. Default 8 MiB (HUB_MAX_JSON_BYTES).
   */
  maxJsonBytes?: number;
  /**
   * Counts every hub answer by status class and every failed attempt by error name (retried ones
   * included: a rising 429 rate shows before any granule fails). Default: nothing counted.
   */
  metrics?: MetricSink;
}

export interface HttpRequestOptions extends HttpTuning {
  authorize?: Authorizer;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Hosts (besides the request's own origin) a redirect may carry the auth headers to. */
  trustedRedirectHosts?: readonly string[];
  /** The typed error for 404/410 (e.g. GranuleGoneError); default InvalidHubDataError (a wrong URL). */
  goneError?: (status: number) => Error;
}

export interface OpenStreamOptions extends HttpRequestOptions {
  /** Byte offset to resume from with `Range: bytes=N-`; default 0. */
  offset?: number;
}

export interface OpenedStream {
  body: Readable;
  status: number;
  /**
   * Where the body starts: the Content-Range start of a 206 (normally the requested `offset`; a lying
   * hub may start elsewhere), 0 when it ignored Range (200).
   */
  offset: number;
  contentLength?: number;
  /** The complete length a 206's Content-Range names, when it names one. */
  totalLength?: number;
}

/**
 * Default cap on a hub's JSON answer: a 1,000-entry CDSE page with attributes is ~2.5 MB, so 8 MiB
 * leaves room while keeping a hostile endless body far inside FetchPage's 512 MB.
 */
export const DEFAULT_MAX_JSON_BYTES = 8 * 1024 * 1024;

const DEFAULTS = {
  retries: 4,
  minTimeoutMs: 500,
  maxTimeoutMs: 30_000,
  maxRetryAfterSeconds: 120,
  timeoutMs: 60_000,
  idleTimeoutMs: 60_000,
  maxJsonBytes: DEFAULT_MAX_JSON_BYTES,
} as const;

/**
 * GETs a JSON document from a hub, retrying throttling and transient failures, and returns the parsed body.
 * The body is read as a stream and never beyond `maxJsonBytes`.
 * @throws HubThrottledError, HubUnavailableError (retries exhausted, including a body that is not JSON),
 *   HubAnswerTooLargeError (a body over the cap, retries exhausted),
 *   HubAuthError, InvalidHubDataError (unexpected status), `goneError(status)` on 404/410, InvalidInputError (bad option);
 *   the signal's reason when aborted.
 */
export async function getJson(url: string, options: HttpRequestOptions = {}): Promise<unknown> {
  const settings = checkOptions(url, options);
  return withRetries(settings, async () => {
    const auth = await resolveAuth(options.authorize);
    const where = redactUrl(url);
    const request = got.stream(url, {
      headers: { accept: "application/json", ...options.headers, ...auth },
      signal: options.signal,
      timeout: { request: settings.timeoutMs },
      retry: { limit: 0 },
      throwHttpErrors: false,
      hooks: { beforeRedirect: [carryAuthOnTrustedRedirect(url, auth, options.trustedRedirectHosts)] },
    });
    let response: { statusCode: number; headers: IncomingHttpHeaders };
    let text: string;
    try {
      response = await waitForResponse(request);
      countResponse(settings.metrics, response.statusCode);
      if (response.statusCode !== 200) {
        request.destroy();
        throw hubStatusError(response.statusCode, {
          where,
          retryAfter: response.headers["retry-after"],
          goneError: options.goneError,
        });
      }
      text = await readCapped(request, response.headers, where, settings.maxJsonBytes);
    } catch (error) {
      request.destroy();
      if (error instanceof DownloaderError) throw error;
      throw requestFailure(error, where, options.signal, auth);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      // A 200 whose body does not parse is a page cut short or an HTML maintenance page: transient
      // in practice, so it is retried like a 5xx. JSON of the wrong shape stays InvalidHubDataError
      // (terminal: contract drift). Name what came back, never its content.
      throw new HubUnavailableError(
        `GET ${where} answered a body that is not JSON (${response.headers["content-type"] ?? "no content-type"}, ${text.length} characters)`,
        { url: where, status: response.statusCode, cause: sanitizedCause(error, auth) },
      );
    }
  });
}

/**
 * Opens a hub body as a stream (from `offset` on, by Range), once the response status says it is a product.
 * Opening is retried like getJson; a body that breaks later is the caller's to resume.
 * @throws HubThrottledError, HubUnavailableError, HubAuthError, InvalidHubDataError, `goneError(status)`
 *   on 404/410, InvalidInputError (bad option); the signal's reason when aborted.
 */
export async function openStream(url: string, options: OpenStreamOptions = {}): Promise<OpenedStream> {
  const settings = checkOptions(url, options);
  const offset = options.offset ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new InvalidInputError(`offset must be a non-negative integer, got ${offset}`, { field: "offset" });
  }
  return withRetries(settings, async () => {
    const auth = await resolveAuth(options.authorize);
    const where = redactUrl(url);
    const request = got.stream(url, {
      // identity: the bytes we hash must be the product's bytes, and Range offsets count those bytes.
      headers: {
        ...options.headers,
        ...auth,
        "accept-encoding": "identity",
        ...(offset > 0 ? { range: `bytes=${offset}-` } : {}),
      },
      decompress: false,
      signal: options.signal,
      // No whole-request timeout: a product takes minutes; the socket idle timeout catches a stalled body.
      timeout: { response: settings.timeoutMs, socket: settings.idleTimeoutMs },
      retry: { limit: 0 },
      throwHttpErrors: false,
      hooks: { beforeRedirect: [carryAuthOnTrustedRedirect(url, auth, options.trustedRedirectHosts)] },
    });
    let response: { statusCode: number; headers: IncomingHttpHeaders };
    try {
      response = await waitForResponse(request);
    } catch (error) {
      request.destroy();
      throw requestFailure(error, where, options.signal, auth);
    }
    countResponse(settings.metrics, response.statusCode);
    const status = response.statusCode;
    if (status !== 200 && status !== 206) {
      request.destroy();
      // 202: DHuS is restoring an offline product from its long-term archive; it will be there later.
      if (status === 202) {
        throw new HubUnavailableError(`GET ${where} answered 202: product is being restored, retry later`, {
          status,
          url: where,
        });
      }
      throw hubStatusError(status, {
        where,
        retryAfter: response.headers["retry-after"],
        goneError: options.goneError,
      });
    }
    const contentLength = parseContentLength(response.headers["content-length"]);
    if (status === 206) {
      // A body that starts elsewhere than asked is reported as it is (offset = where it starts):
      // the transfer cannot append it, and decides how to start over; failing the granule here
      // would turn one hub hiccup into a terminal failure.
      const range = parseContentRange(response.headers["content-range"]);
      return {
        body: request,
        status,
        offset: range?.start ?? offset,
        contentLength,
        ...(range?.total !== undefined && { totalLength: range.total }),
      };
    }
    // A 200 to a Range request means the hub ignored Range: the body starts at byte 0.
    return { body: request, status, offset: 0, contentLength };
  });
}

/**
 * Opens a granule's product body for a hub's `openDownload`: openStream where 404/410 is the granule
 * withdrawn (GranuleGoneError), answered as the Hub contract's DownloadStream.
 */
export async function openProduct(
  url: string,
  granuleId: string,
  options: Omit<OpenStreamOptions, "goneError">,
): Promise<DownloadStream> {
  const opened = await openStream(url, {
    ...options,
    goneError: (status) => new GranuleGoneError(granuleId, status),
  });
  return {
    body: opened.body,
    offset: opened.offset,
    contentLength: opened.contentLength,
    ...(opened.totalLength !== undefined && { totalLength: opened.totalLength }),
  };
}

/** The options with their defaults: the request's timeouts and cap, and its one retry policy. */
interface Settings extends RetryPolicy {
  maxRetryAfterSeconds: number;
  timeoutMs: number;
  idleTimeoutMs: number;
  maxJsonBytes: number;
  metrics?: MetricSink;
}

function checkOptions(url: string, options: HttpRequestOptions): Settings {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error(parsed.protocol);
  } catch (error) {
    throw new InvalidInputError(`not an http(s) URL: ${redactUrl(url)}`, { field: "url", cause: error });
  }
  const settings: Settings = {
    retries: options.retries ?? DEFAULTS.retries,
    minTimeoutMs: options.minTimeoutMs ?? DEFAULTS.minTimeoutMs,
    maxTimeoutMs: options.maxTimeoutMs ?? DEFAULTS.maxTimeoutMs,
    maxRetryAfterSeconds: options.maxRetryAfterSeconds ?? DEFAULTS.maxRetryAfterSeconds,
    timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
    maxJsonBytes: options.maxJsonBytes ?? DEFAULTS.maxJsonBytes,
    signal: options.signal,
    metrics: options.metrics,
    onFailure: (error) => options.metrics?.add("HubErrors", 1, { errorName: error.name }),
  };
  if (!Number.isInteger(settings.retries) || settings.retries < 0) {
    throw new InvalidInputError(`retries must be a non-negative integer, got ${settings.retries}`, {
      field: "retries",
    });
  }
  for (const field of ["minTimeoutMs", "maxTimeoutMs", "maxRetryAfterSeconds"] as const) {
    if (!Number.isFinite(settings[field]) || settings[field] < 0) {
      throw new InvalidInputError(`${field} must be a non-negative number, got ${settings[field]}`, {
        field,
      });
    }
  }
  for (const field of ["timeoutMs", "idleTimeoutMs", "maxJsonBytes"] as const) {
    if (!Number.isFinite(settings[field]) || settings[field] <= 0) {
      throw new InvalidInputError(`${field} must be a positive number, got ${settings[field]}`, { field });
    }
  }
  return settings;
}

function countResponse(metrics: MetricSink | undefined, status: number): void {
  const statusClass = hubStatusClass(status);
  if (statusClass !== undefined) metrics?.add(hubResponseMetric(statusClass), 1);
}

function waitForResponse(request: Request): Promise<{ statusCode: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    // The error listener stays: an error before the caller pipes the body must not crash the process;
    // the pipeline still sees it through the stream's errored state.
    request.on("error", reject);
    request.once("response", resolve);
  });
}
