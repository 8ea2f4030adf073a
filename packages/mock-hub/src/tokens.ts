import { randomBytes } from "node:crypto";

export interface Credentials {
  username: string;
  password: string;
}

export interface TokenStoreOptions {
  /** Clock in epoch ms; tests inject one to expire tokens. */
  now: () => number;
  /** Accepted user; any username/password when absent. */
  credentials?: Credentials;
  accessTokenSeconds?: number;
  refreshTokenSeconds?: number;
  maxSessionsPerUser?: number;
  maxConcurrentDownloadsPerUser?: number;
  /** Password grants are denied as over the session limit until this instant (epoch ms); see denySessionsFor. */
  sessionsDeniedUntil?: number;
}

export interface JsonReply {
  status: number;
  body: unknown;
}

interface Session {
  id: string;
  user: string;
  /** The session lives while its refresh token does; each refresh extends it (Keycloak's idle timeout). */
  refreshExpiresAt: number;
}

/** A Keycloak-like token service (CDSE identity): password and refresh grants, session cap, download quota. */
export class TokenStore {
  private readonly sessions = new Map<string, Session>();
  private readonly accessTokens = new Map<string, { sessionId: string; expiresAt: number }>();
  private readonly refreshTokens = new Map<string, string>();
  private readonly downloads = new Map<string, number>();
  private readonly accessSeconds: number;
  private readonly refreshSeconds: number;
  private readonly maxSessions: number;
  readonly maxDownloads: number;
  #sessionsDeniedUntil: number;
  #sessionRefusals = 0;
  #deniedGrants = 0;

  constructor(private readonly options: TokenStoreOptions) {
    this.accessSeconds = options.accessTokenSeconds ?? 600;
    this.refreshSeconds = options.refreshTokenSeconds ?? 3600;
    this.maxSessions = options.maxSessionsPerUser ?? 100;
    this.maxDownloads = options.maxConcurrentDownloadsPerUser ?? 4;
    this.#sessionsDeniedUntil = options.sessionsDeniedUntil ?? Number.NEGATIVE_INFINITY;
  }

  /**
   * Denies every password grant as over the session limit for `ms` from now, then accepts again: what a
   * user sees while sessions another client opened (or a crashed run leaked) have not yet expired.
   */
  denySessionsFor(ms: number): void {
    this.#sessionsDeniedUntil = this.options.now() + ms;
  }

  /** Denies the next `grants` password grants as over the session limit, then accepts again. */
  denyNextSessions(grants: number): void {
    this.#deniedGrants = grants;
  }

  /** Password grants refused for the session limit so far. */
  get sessionRefusals(): number {
    return this.#sessionRefusals;
  }

  /** Answers a form POST to the token endpoint. */
  grant(form: URLSearchParams): JsonReply {
    if (form.get("client_id") !== "cdse-public") {
      return oauthError(401, "invalid_client", "Invalid client or Invalid client credentials");
    }
    const grantType = form.get("grant_type");
    if (grantType === "password")
      return this.passwordGrant(form.get("username") ?? "", form.get("password") ?? "");
    if (grantType === "refresh_token") return this.refreshGrant(form.get("refresh_token") ?? "");
    return oauthError(400, "unsupported_grant_type", "Unsupported grant_type");
  }

  /** The user a bearer token belongs to, or the zipper's error reply. */
  authorize(authorization: string | undefined): { user: string } | JsonReply {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? "");
    if (match?.[1] === undefined) return { status: 401, body: { detail: "Not authenticated" } };
    const token = this.accessTokens.get(match[1]);
    const session = token === undefined ? undefined : this.sessions.get(token.sessionId);
    if (token === undefined || session === undefined)
      return { status: 401, body: { detail: "Invalid token" } };
    if (token.expiresAt <= this.options.now()) return { status: 401, body: { detail: "Expired signature!" } };
    return { user: session.user };
  }

  /** Counts a download in flight; false when the user is at the quota (the caller answers 429). */
  beginDownload(user: string): boolean {
    const active = this.downloads.get(user) ?? 0;
    if (active >= this.maxDownloads) return false;
    this.downloads.set(user, active + 1);
    return true;
  }

  endDownload(user: string): void {
    this.downloads.set(user, Math.max(0, (this.downloads.get(user) ?? 0) - 1));
  }

  /** Sessions of a user whose refresh token is still valid. */
  liveSessions(user: string): number {
    const now = this.options.now();
    let count = 0;
    for (const session of this.sessions.values())
      if (session.user === user && session.refreshExpiresAt > now) count++;
    return count;
  }

  activeDownloads(user: string): number {
    return this.downloads.get(user) ?? 0;
  }

  private passwordGrant(username: string, password: string): JsonReply {
    const expected = this.options.credentials;
    if (
      username === "" ||
      (expected !== undefined && (expected.username !== username || expected.password !== password))
    ) {
      return oauthError(401, "invalid_grant", "Invalid user credentials");
    }
    this.evictExpired();
    const denied = this.#deniedGrants > 0 || this.options.now() < this.#sessionsDeniedUntil;
    if (this.liveSessions(username) >= this.maxSessions || denied) {
      this.#sessionRefusals++;
      this.#deniedGrants = Math.max(0, this.#deniedGrants - 1);
      // Keycloak's User Session Count Limiter, "Deny new session": a direct grant fails 403 with the
      // configured message as `error` (default "sessionLimitExceeded").
      return oauthError(
        403,
        "sessionLimitExceeded",
        `Maximum number of sessions (${this.maxSessions}) reached for user`,
      );
    }
    const session: Session = { id: opaque(), user: username, refreshExpiresAt: 0 };
    this.sessions.set(session.id, session);
    return this.issue(session);
  }

  private refreshGrant(refreshToken: string): JsonReply {
    const sessionId = this.refreshTokens.get(refreshToken);
    const session = sessionId === undefined ? undefined : this.sessions.get(sessionId);
    if (session === undefined || session.refreshExpiresAt <= this.options.now()) {
      return oauthError(400, "invalid_grant", "Token is not active");
    }
    return this.issue(session);
  }

  private issue(session: Session): JsonReply {
    const now = this.options.now();
    session.refreshExpiresAt = now + this.refreshSeconds * 1000;
    const accessToken = jwtLike({
      sub: session.user,
      sid: session.id,
      iat: now / 1000,
      exp: now / 1000 + this.accessSeconds,
    });
    const refreshToken = opaque();
    this.accessTokens.set(accessToken, { sessionId: session.id, expiresAt: now + this.accessSeconds * 1000 });
    this.refreshTokens.set(refreshToken, session.id);
    return {
      status: 200,
      body: {
        access_token: accessToken,
        expires_in: this.accessSeconds,
        refresh_expires_in: this.refreshSeconds,
        refresh_token: refreshToken,
        token_type: "Bearer",
        "not-before-policy": 0,
        session_state: session.id,
        scope: "AUDIENCE_PUBLIC openid email profile ondemand_processing user-context",
      },
    };
  }

  private evictExpired(): void {
    const now = this.options.now();
    for (const [id, session] of this.sessions) {
      if (session.refreshExpiresAt > now) continue;
      this.sessions.delete(id);
      for (const [token, value] of this.accessTokens)
        if (value.sessionId === id) this.accessTokens.delete(token);
      for (const [token, value] of this.refreshTokens) if (value === id) this.refreshTokens.delete(token);
    }
  }
}

function oauthError(status: number, error: string, description: string): JsonReply {
  return { status, body: { error, error_description: description } };
}

function opaque(): string {
  return randomBytes(18).toString("base64url");
}

/** Shaped like the JWTs Keycloak issues (unsigned): clients that peek at `exp` keep working. */
function jwtLike(claims: Record<string, unknown>): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${encode({ alg: "RS256", typ: "JWT" })}.${encode({ ...claims, azp: "cdse-public", typ: "Bearer" })}.${opaque()}`;
}
