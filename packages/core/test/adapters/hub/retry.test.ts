import { rejection } from "@hls-s2/testing/rejection";
import { afterEach, describe, expect, it } from "vitest";
import { getJson, openStream } from "../../../src/adapters/hub/http";
import { withRetries } from "../../../src/adapters/hub/retry";
import { HubThrottledError, HubUnavailableError, InvalidHubDataError } from "../../../src/domain/errors";
import { sendJson, startTestServer, type TestServer } from "../../helpers/http-server";

const FAST = { minTimeoutMs: 5, maxTimeoutMs: 20 };
const servers: TestServer[] = [];

async function serve(...args: Parameters<typeof startTestServer>): Promise<TestServer> {
  const server = await startTestServer(...args);
  servers.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe("hub requests under the retry engine", () => {
  it("waits until a Retry-After given as an HTTP-date before asking again", async () => {
    // Prepare
    const retryAt = new Date(Date.now() + 2_000).toUTCString();
    const askedAt: number[] = [];
    const server = await serve((_req, res) => {
      askedAt.push(Date.now());
      if (askedAt.length === 1) sendJson(res, "busy", 429, { "retry-after": retryAt });
      else sendJson(res, { ok: 1 });
    });

    // Act
    const body = await getJson(`${server.url}/x`, FAST);

    // Assess
    expect(body).toEqual({ ok: 1 });
    expect(askedAt).toHaveLength(2);
    // The date has whole seconds; a timer may fire a millisecond early.
    expect(askedAt[1]).toBeGreaterThanOrEqual(Date.parse(retryAt) - 5);
  });

  it("stops at a deadline shorter than the Retry-After with the deadline's reason, asking once", async () => {
    const server = await serve((_req, res) => sendJson(res, "busy", 429, { "retry-after": "30" }));
    const deadline = AbortSignal.timeout(200);
    const started = Date.now();

    const error = await rejection(getJson(`${server.url}/x`, { ...FAST, signal: deadline }));

    expect(error).toBe(deadline.reason);
    expect(error.name).toBe("TimeoutError");
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(server.requests).toHaveLength(1);
  });

  it("stops a request in flight when the signal aborts, with its reason", async () => {
    const server = await serve(() => {
      // never answers
    });
    const controller = new AbortController();
    const reason = new Error("time budget spent");
    setTimeout(() => controller.abort(reason), 100);
    const started = Date.now();

    const json = rejection(getJson(`${server.url}/x`, { ...FAST, retries: 5, signal: controller.signal }));
    const stream = rejection(
      openStream(`${server.url}/y`, { ...FAST, retries: 5, signal: controller.signal }),
    );

    expect(await json).toBe(reason);
    expect(await stream).toBe(reason);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(server.requests).toHaveLength(2);
  });
});

describe("withRetries", () => {
  it("retries a retryable failure with doubling waits until the retries run out", async () => {
    const attempts: number[] = [];

    const error = await rejection(
      withRetries({ retries: 3, minTimeoutMs: 20, maxTimeoutMs: 1_000 }, async () => {
        attempts.push(performance.now());
        throw new HubUnavailableError("down");
      }),
    );

    expect(error).toBeInstanceOf(HubUnavailableError);
    expect(attempts).toHaveLength(4);
    const waits = attempts.slice(1).map((at, i) => at - attempts[i]!);
    // p-retry's jitter multiplies each wait by [1, 2): never shorter than minTimeout · 2^n.
    expect(waits[0]).toBeGreaterThanOrEqual(19);
    expect(waits[1]).toBeGreaterThanOrEqual(39);
    expect(waits[2]).toBeGreaterThanOrEqual(79);
  });

  it("gives a terminal failure back at once, and reports every failed attempt", async () => {
    const failures: string[] = [];
    let attempts = 0;

    const error = await rejection(
      withRetries(
        { retries: 3, minTimeoutMs: 1, maxTimeoutMs: 1, onFailure: (failure) => failures.push(failure.name) },
        async () => {
          attempts += 1;
          throw attempts === 1 ? new HubUnavailableError("down") : new InvalidHubDataError("drift");
        },
      ),
    );

    expect(error).toBeInstanceOf(InvalidHubDataError);
    expect(attempts).toBe(2);
    expect(failures).toEqual(["HubUnavailableError", "InvalidHubDataError"]);
  });

  it("retries what its own classification allows", async () => {
    let attempts = 0;

    const result = await withRetries(
      {
        retries: 2,
        minTimeoutMs: 1,
        maxTimeoutMs: 1,
        retryable: (error) => (error as { code?: string }).code === "ECONNRESET",
      },
      async () => {
        attempts += 1;
        if (attempts < 3) throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
        return "token";
      },
    );

    expect(result).toBe("token");
    expect(attempts).toBe(3);
  });

  it("surfaces a throttle whose Retry-After passes the cap without waiting", async () => {
    let attempts = 0;
    const started = Date.now();

    const error = await rejection(
      withRetries({ retries: 3, minTimeoutMs: 1, maxTimeoutMs: 1, maxRetryAfterSeconds: 5 }, async () => {
        attempts += 1;
        throw new HubThrottledError("429", { retryAfterSeconds: 60 });
      }),
    );

    expect(error).toMatchObject({ name: "HubThrottledError", retryAfterSeconds: 60 });
    expect(attempts).toBe(1);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
