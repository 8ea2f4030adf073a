import type { IncomingHttpHeaders } from "node:http";
import got from "got";
import * as v from "valibot";
import {
  HubAnswerTooLargeError,
  HubAuthError,
  HubSessionsExhaustedError,
  HubThrottledError,
  HubUnavailableError,
  InvalidHubDataError,
  InvalidInputError,
} from "../../../domain/errors";
import type { Credentials } from "../auth";
import { readCapped } from "../body";
import { parseRetryAfter } from "../failure";
import { DEFAULT_MAX_JSON_BYTES } from "../http";
import { withRetries } from "../retry";

/** CDSE's public Keycloak client: the one its documentation gives for the password grant. */
export const CDSE_CLIENT_ID = "cdse-public";
/** CDSE identity (Keycloak) token endpoint, used when a hub is given credentials without a token URL. */
export const CDSE_TOKEN_URL =
  "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token";

export interface CdseTokenManagerOptions {
  /** Keycloak's token endpoint (`…/protocol/openid-connect/token`). */
  tokenUrl: string;
  credentials: Credentials;
  clientId?: string;
  /** Clock in epoch milliseconds; injected by tests. */
  now?: () => number;
  /** A token is renewed this long before it expires, so a request never leaves with a dying token. */
  refreshMarginMs?: number;
  /** Per-request timeout of the token endpoint. */
  timeoutMs?: number;
  /** Retries of a token request that failed with a network error (reset, refused, timeout). */
  retries?: number;
  /** Largest token answer read, in bytes; beyond it HubAnswerTooLargeError. Default 8 MiB. */
  maxJsonBytes?: number;
}

const TokenResponseSchema = v.object({
  access_token: v.pipe(v.string(), v.minLength(1)),
  expires_in: v.pipe(v.number(), v.finite(), v.minValue(1)),
  refresh_token: v.optional(v.string()),
  // Keycloak sends 0 for a refresh token without its own expiry (offline tokens).
  refresh_expires_in: v.optional(v.pipe(v.number(), v.finite(), v.minValue(0))),
});

interface TokenState {
  accessToken: string;
  accessExpiresAt: number;
  refreshToken?: string;
  refreshExpiresAt: number;
  /** Renew at this instant: expiry − margin, the margin capped at half the token's life. */
  renewAt: number;
}

type GrantOutcome =
  | { ok: true; state: TokenState }
  | { ok: false; status: number; retryAfterSeconds?: number; oauthError?: string };

/** Largest refusal read: an OAuth error answer is a few hundred bytes. */
const MAX_REFUSAL_BYTES = 16 * 1024;

/**
 * Whether a refused grant says "too many sessions", not "bad credentials". Keycloak's User Session
 * Count Limiter with "Deny new session" fails a direct (password) grant with HTTP 403 and `error` set to
 * the realm's configured message, by default "sessionLimitExceeded" (UserSessionLimitsAuthenticator;
 * its test expects 403 and that error for a password grant beyond the limit). A realm's own message
 * ("Maximum number of sessions reached") is recognised by its words.
 */
export function isSessionLimitRefusal(oauthError: string | undefined): boolean {
  if (oauthError === undefined) return false;
  return /session.?limit|sessions?\b.*\b(limit|exceeded|maximum|too many)|(maximum|too many).*\bsessions?\b/i.test(
    oauthError,
  );
}

/**
 * Keycloak bearer tokens for CDSE downloads, one session per warm container: CDSE allows 100 live
 * sessions per user, so minting a token per download would lock the account out within minutes.
 * The password grant runs once; the access token is reused until shortly before it expires, then
 * renewed with the refresh grant; the password is used again only when the refresh token is refused.
 * Concurrent callers share one in-flight token request. Neither the password nor any token ever
 * appears in an error message or an error's `cause`.
 */
export class CdseTokenManager {
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly #credentials: Credentials;
  readonly #now: () => number;
  readonly #refreshMarginMs: number;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #maxJsonBytes: number;
  #state?: TokenState;
  #inFlight?: Promise<TokenState>;
  #passwordGrants = 0;
  #refreshGrants = 0;

  /** @throws InvalidInputError naming a bad option. */
  constructor(options: CdseTokenManagerOptions) {
    const { tokenUrl, credentials } = options;
    let { clientId, now, refreshMarginMs, timeoutMs, retries, maxJsonBytes } = options;
    clientId ??= CDSE_CLIENT_ID;
    now ??= Date.now;
    refreshMarginMs ??= 60_000;
    timeoutMs ??= 30_000;
    retries ??= 2;
    maxJsonBytes ??= DEFAULT_MAX_JSON_BYTES;
    if (!URL.canParse(tokenUrl))
      throw new InvalidInputError("tokenUrl must be an absolute URL", { field: "tokenUrl" });
    if (!credentials?.username || !credentials.password)
      throw new InvalidInputError("credentials need a username and a password", { field: "credentials" });
    if (!Number.isFinite(refreshMarginMs) || refreshMarginMs < 0)
      throw new InvalidInputError("refreshMarginMs must be ≥ 0", { field: "refreshMarginMs" });
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
      throw new InvalidInputError("timeoutMs must be > 0", { field: "timeoutMs" });
    if (!Number.isInteger(retries) || retries < 0)
      throw new InvalidInputError("retries must be an integer ≥ 0", { field: "retries" });
    if (!Number.isInteger(maxJsonBytes) || maxJsonBytes < 1)
      throw new InvalidInputError("maxJsonBytes must be a positive integer", { field: "maxJsonBytes" });
    this.tokenUrl = tokenUrl;
    this.clientId = clientId;
    this.#credentials = credentials;
    this.#now = now;
    this.#refreshMarginMs = refreshMarginMs;
    this.#timeoutMs = timeoutMs;
    this.#retries = retries;
    this.#maxJsonBytes = maxJsonBytes;
  }

  /** How many password and refresh grants this manager has sent (for logs and metrics; never the tokens). */
  get grants(): { password: number; refresh: number } {
    return { password: this.#passwordGrants, refresh: this.#refreshGrants };
  }

  /**
   * A valid access token: the cached one, else a refreshed one, else a newly minted one.
   * @throws HubAuthError when the hub refuses the credentials; HubSessionsExhaustedError when it refuses
   *   because the account holds too many sessions; HubThrottledError on 429;
   *   HubAnswerTooLargeError when the answer passes maxJsonBytes;
   *   HubUnavailableError on 5xx, timeouts and resets; InvalidHubDataError on a malformed answer.
   */
  async getAccessToken(): Promise<string> {
    const state = this.#state;
    if (state && this.#now() < state.renewAt) return state.accessToken;
    // Single flight: a burst of downloads at expiry sends one grant, not one per download.
    this.#inFlight ??= this.#renew().finally(() => {
      this.#inFlight = undefined;
    });
    return (await this.#inFlight).accessToken;
  }

  /**
   * Forgets the access token after the hub answered 401 with it, so the next call renews. Given the
   * rejected token, it does nothing when that token was already replaced: ten downloads failing with
   * the same stale token cause one renewal, not ten.
   */
  invalidate(rejectedToken?: string): void {
    const state = this.#state;
    if (!state || (rejectedToken !== undefined && state.accessToken !== rejectedToken)) return;
    // Keep the refresh token: a 401 on the access token says nothing about the refresh token.
    this.#state = { ...state, renewAt: Number.NEGATIVE_INFINITY };
  }

  async #renew(): Promise<TokenState> {
    const previous = this.#state;
    if (previous?.refreshToken && this.#now() < previous.refreshExpiresAt) {
      this.#refreshGrants += 1;
      const refreshed = await this.#grant({
        grant_type: "refresh_token",
        client_id: this.clientId,
        refresh_token: previous.refreshToken,
      });
      if (refreshed.ok) return this.#keep(refreshed.state);
      // Keycloak answers 400 invalid_grant (or 401) for an expired, revoked or unknown refresh token:
      // only then is the password used again. Anything else is the hub's trouble, not the token's.
      if (refreshed.status !== 400 && refreshed.status !== 401) throw this.#failure(refreshed, "refresh");
    }
    this.#passwordGrants += 1;
    const minted = await this.#grant({
      grant_type: "password",
      client_id: this.clientId,
      username: this.#credentials.username,
      password: this.#credentials.password,
    });
    if (minted.ok) return this.#keep(minted.state);
    throw this.#failure(minted, "password");
  }

  #keep(state: TokenState): TokenState {
    this.#state = state;
    return state;
  }

  async #grant(form: Record<string, string>): Promise<GrantOutcome> {
    const sentAt = this.#now();
    let response: {
      statusCode: number;
      body: string;
      headers: Record<string, string | string[] | undefined>;
    };
    try {
      response = await this.#post(form);
    } catch (error) {
      if (error instanceof HubAnswerTooLargeError) throw error;
      // got's errors carry the request options, form body (password) included: never chain them.
      const code = (error as { code?: unknown }).code;
      throw new HubUnavailableError(
        `token endpoint ${this.tokenUrl} unreachable${typeof code === "string" ? ` (${code})` : ""}`,
        { url: this.tokenUrl },
      );
    }
    if (response.statusCode !== 200) {
      return {
        ok: false,
        status: response.statusCode,
        retryAfterSeconds: parseRetryAfter([response.headers["retry-after"]].flat()[0], this.#now()),
        oauthError: oauthErrorOf(response.body),
      };
    }
    let parsed: v.InferOutput<typeof TokenResponseSchema>;
    try {
      const result = v.safeParse(TokenResponseSchema, JSON.parse(response.body));
      if (!result.success) {
        // Name the fields only: valibot's messages quote the received value, which may be a token.
        const fields = result.issues.map((issue) => v.getDotPath(issue) ?? "(root)").join(", ");
        throw new InvalidHubDataError(`token endpoint answer is invalid at ${fields}`, {
          url: this.tokenUrl,
        });
      }
      parsed = result.output;
    } catch (error) {
      if (error instanceof InvalidHubDataError) throw error;
      throw new InvalidHubDataError("token endpoint answer is not JSON", { url: this.tokenUrl });
    }
    const accessExpiresAt = sentAt + parsed.expires_in * 1000;
    // A token living less than twice the margin would be renewed on every call; renew it at half-life instead.
    const margin = Math.min(this.#refreshMarginMs, (parsed.expires_in * 1000) / 2);
    const refreshExpiresAt =
      parsed.refresh_token === undefined
        ? Number.NEGATIVE_INFINITY
        : parsed.refresh_expires_in === undefined || parsed.refresh_expires_in === 0
          ? Number.POSITIVE_INFINITY
          : sentAt + parsed.refresh_expires_in * 1000 - margin;
    return {
      ok: true,
      state: {
        accessToken: parsed.access_token,
        accessExpiresAt,
        refreshToken: parsed.refresh_token,
        refreshExpiresAt,
        renewAt: accessExpiresAt - margin,
      },
    };
  }

  /**
   * POSTs the grant and reads the answer as a stream capped at `maxJsonBytes`: an endless answer
   * from the identity service must not take the container's memory with it.
   */
  async #post(form: Record<string, string>): Promise<{
    statusCode: number;
    body: string;
    headers: Record<string, string | string[] | undefined>;
  }> {
    // With throwHttpErrors off, only network errors are retried; a 5xx surfaces as HubUnavailableError.
    const policy = {
      retries: this.#retries,
      minTimeoutMs: 250,
      maxTimeoutMs: 2_000,
      retryable: (error: unknown) => !(error instanceof HubAnswerTooLargeError),
    };
    return withRetries(policy, async () => {
      const request = got.stream.post(this.tokenUrl, {
        form,
        throwHttpErrors: false,
        timeout: { request: this.#timeoutMs },
        retry: { limit: 0 },
      });
      try {
        const response = await new Promise<{ statusCode: number; headers: IncomingHttpHeaders }>(
          (resolve, reject) => {
            request.on("error", reject);
            request.once("response", resolve);
          },
        );
        // A refusal is read too (capped small, never logged): its `error` tells a session limit from bad
        // credentials. An unreadable one counts as empty, the status alone then decides.
        const body =
          response.statusCode === 200
            ? await readCapped(request, response.headers, this.tokenUrl, this.#maxJsonBytes)
            : await readCapped(request, response.headers, this.tokenUrl, MAX_REFUSAL_BYTES).catch(() => "");
        return { statusCode: response.statusCode, body, headers: response.headers };
      } finally {
        request.destroy();
      }
    });
  }

  #failure(outcome: Extract<GrantOutcome, { ok: false }>, grant: "password" | "refresh"): Error {
    const { status } = outcome;
    const what = `${grant} grant at ${this.tokenUrl} answered HTTP ${status}`;
    if (status === 429)
      return new HubThrottledError(what, {
        retryAfterSeconds: outcome.retryAfterSeconds,
        url: this.tokenUrl,
      });
    if (status >= 500) return new HubUnavailableError(what, { status, url: this.tokenUrl });
    if ((status === 400 || status === 401 || status === 403) && isSessionLimitRefusal(outcome.oauthError))
      return new HubSessionsExhaustedError(
        `${what}: the account ${this.#credentials.username} holds too many sessions (${outcome.oauthError}); they expire by themselves`,
        { status, url: this.tokenUrl },
      );
    if (status === 400 || status === 401 || status === 403)
      return new HubAuthError(`${what}: the hub refused the credentials of ${this.#credentials.username}`, {
        status,
        url: this.tokenUrl,
      });
    return new HubUnavailableError(what, { status, url: this.tokenUrl });
  }
}

/** `error` and `error_description` of an OAuth error answer (RFC 6749 §5.2), when it is one. */
function oauthErrorOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: unknown; error_description?: unknown };
    const parts = [parsed.error, parsed.error_description].filter(
      (part): part is string => typeof part === "string" && part !== "",
    );
    // Capped: it goes into an error message, and a hostile answer must not make that message huge.
    return parts.length === 0 ? undefined : parts.join(": ").slice(0, 300);
  } catch {
    return undefined;
  }
}
