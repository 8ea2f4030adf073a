import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { rejection } from "@hls-s2/testing/rejection";
import { afterEach, describe, expect, it } from "vitest";
import { CdseTokenManager } from "../../../../src/adapters/hub/cdse/token";

const USERNAME = "operator@example.org";
const PASSWORD = "s3cret-Pa55word";

interface Grant {
  form: URLSearchParams;
  contentType: string | undefined;
}

type Answer = { status: number; body?: unknown; headers?: Record<string, string> };

/** A Keycloak token endpoint on loopback that records each grant and answers as the test says. */
async function startKeycloak(answer: (grant: Grant, index: number) => Answer | Promise<Answer>) {
  const grants: Grant[] = [];
  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const grant = {
      form: new URLSearchParams(Buffer.concat(chunks).toString("utf8")),
      contentType: req.headers["content-type"],
    };
    grants.push(grant);
    const { status, body, headers } = await answer(grant, grants.length - 1);
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(typeof body === "string" ? body : JSON.stringify(body ?? {}));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  servers.push(server);
  return { url: `http://127.0.0.1:${port}/realms/CDSE/protocol/openid-connect/token`, grants };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** Keycloak's usual answer: access token 10 min, refresh token 60 min, numbered so tests can tell them apart. */
function issue(index: number, grant: Grant): Answer {
  const kind = grant.form.get("grant_type") === "password" ? "minted" : "refreshed";
  return {
    status: 200,
    body: {
      access_token: `access-${kind}-${index}`,
      expires_in: 600,
      refresh_token: `refresh-${index}`,
      refresh_expires_in: 3600,
      token_type: "Bearer",
    },
  };
}

function manualClock(start = Date.parse("2024-01-02T12:00:00.000Z")) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function managerFor(url: string, extra: Partial<ConstructorParameters<typeof CdseTokenManager>[0]> = {}) {
  return new CdseTokenManager({
    tokenUrl: url,
    credentials: { username: USERNAME, password: PASSWORD },
    retries: 0,
    ...extra,
  });
}

describe("CdseTokenManager", () => {
  it("mints a token with a form-encoded password grant of the cdse-public client", async () => {
    const hub = await startKeycloak((grant, i) => issue(i, grant));
    const tokens = managerFor(hub.url);

    expect(await tokens.getAccessToken()).toBe("access-minted-0");
    expect(hub.grants).toHaveLength(1);
    expect(hub.grants[0]?.contentType).toMatch(/^application\/x-www-form-urlencoded/);
    expect(Object.fromEntries(hub.grants[0]!.form)).toEqual({
      grant_type: "password",
      client_id: "cdse-public",
      username: USERNAME,
      password: PASSWORD,
    });
  });

  it("reuses the access token until the refresh margin before its expiry", async () => {
    const hub = await startKeycloak((grant, i) => issue(i, grant));
    const clock = manualClock();
    const tokens = managerFor(hub.url, { now: clock.now, refreshMarginMs: 60_000 });

    await tokens.getAccessToken();
    clock.advance(539_000); // 1 s before expiry − margin
    expect(await tokens.getAccessToken()).toBe("access-minted-0");
    expect(hub.grants).toHaveLength(1);
  });

  it("renews with the refresh grant once the margin before expiry is reached", async () => {
    const hub = await startKeycloak((grant, i) => issue(i, grant));
    const clock = manualClock();
    const tokens = managerFor(hub.url, { now: clock.now, refreshMarginMs: 60_000 });

    await tokens.getAccessToken();
    clock.advance(540_000);
    expect(await tokens.getAccessToken()).toBe("access-refreshed-1");
    expect(Object.fromEntries(hub.grants[1]!.form)).toEqual({
      grant_type: "refresh_token",
      client_id: "cdse-public",
      refresh_token: "refresh-0",
    });
    expect(tokens.grants).toEqual({ password: 1, refresh: 1 });
  });

  it("mints again with the password when the refresh token is refused", async () => {
    const hub = await startKeycloak((grant, i) =>
      grant.form.get("grant_type") === "refresh_token"
        ? { status: 400, body: { error: "invalid_grant", error_description: "Token is not active" } }
        : issue(i, grant),
    );
    const clock = manualClock();
    const tokens = managerFor(hub.url, { now: clock.now });

    await tokens.getAccessToken();
    clock.advance(600_000);
    expect(await tokens.getAccessToken()).toBe("access-minted-2");
    expect(hub.grants.map((g) => g.form.get("grant_type"))).toEqual([
      "password",
      "refresh_token",
      "password",
    ]);
  });

  it("mints with the password without trying a refresh token that has expired", async () => {
    const hub = await startKeycloak((grant, i) => issue(i, grant));
    const clock = manualClock();
    const tokens = managerFor(hub.url, { now: clock.now });

    await tokens.getAccessToken();
    clock.advance(3_600_000);
    expect(await tokens.getAccessToken()).toBe("access-minted-1");
    expect(hub.grants.map((g) => g.form.get("grant_type"))).toEqual(["password", "password"]);
  });

  it("shares one in-flight grant among concurrent callers", async () => {
    const hub = await startKeycloak(async (grant, i) => {
      await sleep(30);
      return issue(i, grant);
    });
    const tokens = managerFor(hub.url);

    const got = await Promise.all(Array.from({ length: 50 }, () => tokens.getAccessToken()));
    expect(new Set(got)).toEqual(new Set(["access-minted-0"]));
    expect(hub.grants).toHaveLength(1);
  });

  it("refreshes after invalidate, once, however many callers saw the rejected token", async () => {
    const hub = await startKeycloak((grant, i) => issue(i, grant));
    const tokens = managerFor(hub.url);
    const rejected = await tokens.getAccessToken();

    tokens.invalidate(rejected);
    const fresh = await tokens.getAccessToken();
    tokens.invalidate(rejected); // a late 401 with the old token must not throw the new one away
    expect(await tokens.getAccessToken()).toBe(fresh);
    expect(fresh).toBe("access-refreshed-1");
    expect(hub.grants.map((g) => g.form.get("grant_type"))).toEqual(["password", "refresh_token"]);
  });

  it("renews a token whose life is shorter than the margin at half-life instead of on every call", async () => {
    const hub = await startKeycloak((_grant, i) => ({
      status: 200,
      body: { access_token: `short-${i}`, expires_in: 30, refresh_token: `r-${i}`, refresh_expires_in: 60 },
    }));
    const clock = manualClock();
    const tokens = managerFor(hub.url, { now: clock.now, refreshMarginMs: 60_000 });

    await tokens.getAccessToken();
    clock.advance(14_000);
    expect(await tokens.getAccessToken()).toBe("short-0");
    clock.advance(1_000);
    expect(await tokens.getAccessToken()).toBe("short-1");
  });

  it("throws HubAuthError without the password when the password grant is refused", async () => {
    const hub = await startKeycloak(() => ({
      status: 401,
      body: { error: "invalid_grant", error_description: "Invalid user credentials" },
    }));
    const tokens = managerFor(hub.url);

    const error = await rejection(tokens.getAccessToken());
    expect(error).toMatchObject({ name: "HubAuthError", status: 401 });
    expect(JSON.stringify({ ...error, text: error.message, stack: error.stack })).not.toContain(PASSWORD);
  });

  it("throws the retryable HubSessionsExhaustedError, not HubAuthError, when Keycloak denies a new session", async () => {
    // Keycloak's session limiter ("Deny new session") fails a password grant with 403 and its message.
    const hub = await startKeycloak(() => ({ status: 403, body: { error: "sessionLimitExceeded" } }));
    const tokens = managerFor(hub.url);

    const error = await rejection(tokens.getAccessToken());
    expect(error).toMatchObject({ name: "HubSessionsExhaustedError", status: 403, retryable: true });
    expect(error.message).toContain("sessionLimitExceeded");
    expect(error.message).not.toContain(PASSWORD);
  });

  it("tells a realm's own too-many-sessions message from refused credentials", async () => {
    const hub = await startKeycloak((_grant, i) =>
      i === 0
        ? {
            status: 401,
            body: {
              error: "invalid_grant",
              error_description: "Maximum number of sessions (100) reached for user",
            },
          }
        : { status: 401, body: { error: "invalid_grant", error_description: "Invalid user credentials" } },
    );
    const tokens = managerFor(hub.url);

    expect(await rejection(tokens.getAccessToken())).toMatchObject({ name: "HubSessionsExhaustedError" });
    expect(await rejection(tokens.getAccessToken())).toMatchObject({ name: "HubAuthError" });
  });

  it("mints once the sessions have expired after a too-many-sessions refusal", async () => {
    const hub = await startKeycloak((grant, i) =>
      i < 2 ? { status: 403, body: { error: "sessionLimitExceeded" } } : issue(i, grant),
    );
    const tokens = managerFor(hub.url);

    expect((await rejection(tokens.getAccessToken())).name).toBe("HubSessionsExhaustedError");
    expect((await rejection(tokens.getAccessToken())).name).toBe("HubSessionsExhaustedError");
    expect(await tokens.getAccessToken()).toBe("access-minted-2");
  });

  it("throws HubUnavailableError when the token endpoint fails and sends nothing secret along", async () => {
    const hub = await startKeycloak(() => ({ status: 503, body: "down" }));
    const tokens = managerFor(hub.url);

    const error = await rejection(tokens.getAccessToken());
    expect(error).toMatchObject({ name: "HubUnavailableError", status: 503 });
    expect(error.message).not.toContain(PASSWORD);
  });

  it("throws HubUnavailableError without a password-bearing cause when the endpoint is unreachable", async () => {
    const hub = await startKeycloak((grant, i) => issue(i, grant));
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
    const tokens = managerFor(hub.url);

    const error = await rejection(tokens.getAccessToken());
    expect(error.name).toBe("HubUnavailableError");
    expect(error.cause).toBeUndefined();
    expect(error.message).not.toContain(PASSWORD);
  });

  it("throws HubThrottledError with the endpoint's Retry-After on 429", async () => {
    const hub = await startKeycloak(() => ({ status: 429, headers: { "retry-after": "17" } }));
    const tokens = managerFor(hub.url);

    await expect(tokens.getAccessToken()).rejects.toMatchObject({
      name: "HubThrottledError",
      retryAfterSeconds: 17,
    });
  });

  it("throws InvalidHubDataError naming the field, not quoting a token, on a malformed answer", async () => {
    const hub = await startKeycloak(() => ({
      status: 200,
      body: { access_token: "leaky-token-value", expires_in: "leaky-token-value" },
    }));
    const tokens = managerFor(hub.url);

    const error = await rejection(tokens.getAccessToken());
    expect(error.name).toBe("InvalidHubDataError");
    expect(error.message).toContain("expires_in");
    expect(error.message).not.toContain("leaky-token-value");
  });

  it("rejects options it cannot work with, naming them", () => {
    expect(() => managerFor("not a url")).toThrow(expect.objectContaining({ field: "tokenUrl" }));
    expect(() =>
      managerFor("http://127.0.0.1:1/t", { credentials: { username: "u", password: "" } }),
    ).toThrow(expect.objectContaining({ field: "credentials" }));
    expect(() => managerFor("http://127.0.0.1:1/t", { refreshMarginMs: -1 })).toThrow(
      expect.objectContaining({ field: "refreshMarginMs" }),
    );
  });
});

describe("CdseTokenManager against an oversized answer", () => {
  it("refuses a token answer larger than maxJsonBytes with the retryable HubAnswerTooLargeError", async () => {
    const keycloak = await startKeycloak((grant, index) => {
      const answer = issue(index, grant);
      return { ...answer, body: { ...(answer.body as object), padding: "x".repeat(10_000) } };
    });
    const tokens = new CdseTokenManager({
      tokenUrl: keycloak.url,
      credentials: { username: USERNAME, password: PASSWORD },
      maxJsonBytes: 4096,
    });

    const error = await tokens.getAccessToken().catch((caught: Error) => caught);

    expect(error).toMatchObject({ name: "HubAnswerTooLargeError", retryable: true, maxBytes: 4096 });
    expect(String((error as Error).message)).not.toContain(PASSWORD);
    expect(keycloak.grants).toHaveLength(1);
  });

  it("reads an answer within maxJsonBytes", async () => {
    const keycloak = await startKeycloak((grant, index) => issue(index, grant));
    const tokens = new CdseTokenManager({
      tokenUrl: keycloak.url,
      credentials: { username: USERNAME, password: PASSWORD },
      maxJsonBytes: 4096,
    });

    await expect(tokens.getAccessToken()).resolves.toBe("access-minted-0");
  });
});
