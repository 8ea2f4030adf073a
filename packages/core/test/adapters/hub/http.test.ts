import { buffer } from "node:stream/consumers";
import { rejection } from "@hls-s2/testing/rejection";
import { afterEach, describe, expect, it } from "vitest";
import { basicAuth } from "../../../src/adapters/hub/auth";
import { parseRetryAfter } from "../../../src/adapters/hub/failure";
import { getJson, openStream } from "../../../src/adapters/hub/http";
import { redactUrl } from "../../../src/adapters/hub/url";
import {
  GranuleGoneError,
  HubAnswerTooLargeError,
  HubAuthError,
  HubThrottledError,
  HubUnavailableError,
  InvalidHubDataError,
  InvalidInputError,
} from "../../../src/domain/errors";
import { sendBytes, sendJson, startTestServer, type TestServer } from "../../helpers/http-server";

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

describe("getJson", () => {
  it("returns the parsed body and sends the authorizer's headers", async () => {
    const server = await serve((_req, res) => sendJson(res, { feed: { ok: true } }));

    const body = await getJson(`${server.url}/dhus/search?q=x`, {
      authorize: basicAuth({ username: "alice", password: "wonderland" }),
    });

    expect(body).toEqual({ feed: { ok: true } });
    expect(server.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from("alice:wonderland").toString("base64")}`,
    );
  });

  it("waits out Retry-After on a 429 and then succeeds", async () => {
    const server = await serve((_req, res, seen) => {
      if (server.requests.indexOf(seen) === 0)
        sendJson(res, { error: "slow down" }, 429, { "retry-after": "1" });
      else sendJson(res, { ok: 1 });
    });

    const body = await getJson(`${server.url}/x`, FAST);

    expect(body).toEqual({ ok: 1 });
    expect(server.requests).toHaveLength(2);
    const waited = (server.requests[1]?.at ?? 0) - (server.requests[0]?.at ?? 0);
    expect(waited).toBeGreaterThanOrEqual(950);
  });

  it("surfaces a Retry-After longer than the cap at once instead of sleeping through it", async () => {
    const server = await serve((_req, res) => sendJson(res, {}, 429, { "retry-after": "600" }));

    const error = await rejection(getJson(`${server.url}/x`, { ...FAST, maxRetryAfterSeconds: 120 }));

    expect(error).toBeInstanceOf(HubThrottledError);
    expect(error).toMatchObject({ name: "HubThrottledError", retryAfterSeconds: 600 });
    expect(server.requests).toHaveLength(1);
  });

  it("retries a 503 and returns the later success", async () => {
    const server = await serve((_req, res) => {
      if (server.requests.length === 1) sendJson(res, "down", 503);
      else sendJson(res, [1, 2]);
    });

    await expect(getJson(`${server.url}/x`, FAST)).resolves.toEqual([1, 2]);
    expect(server.requests).toHaveLength(2);
  });

  it("gives up with HubUnavailableError after the configured retries", async () => {
    const server = await serve((_req, res) => sendJson(res, "down", 502));

    const error = await rejection(getJson(`${server.url}/x`, { ...FAST, retries: 2 }));

    expect(error).toBeInstanceOf(HubUnavailableError);
    expect(error).toMatchObject({ name: "HubUnavailableError", status: 502 });
    expect(server.requests).toHaveLength(3);
  });

  it("throws HubAuthError on 401 without retrying", async () => {
    const server = await serve((_req, res) => sendJson(res, "no", 401));

    const error = await rejection(getJson(`${server.url}/x`, FAST));

    expect(error).toBeInstanceOf(HubAuthError);
    expect(error).toMatchObject({ name: "HubAuthError", status: 401 });
    expect(server.requests).toHaveLength(1);
  });

  it("maps 404 and 410 through goneError, and to InvalidHubDataError by default", async () => {
    const server = await serve((req, res) => sendJson(res, "gone", req.url === "/a" ? 404 : 410));
    const goneError = (status: number) => new GranuleGoneError("g-1", status);

    await expect(getJson(`${server.url}/a`, { ...FAST, goneError })).rejects.toMatchObject({
      name: "GranuleGoneError",
      status: 404,
    });
    await expect(getJson(`${server.url}/b`, { ...FAST, goneError })).rejects.toMatchObject({ status: 410 });
    await expect(getJson(`${server.url}/b`, FAST)).rejects.toBeInstanceOf(InvalidHubDataError);
    expect(server.requests).toHaveLength(3);
  });

  it("retries a body that is not JSON as a transient failure, then throws HubUnavailableError", async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html>down for maintenance</html>");
    });

    const error = await rejection(getJson(`${server.url}/x`, { ...FAST, retries: 2 }));

    expect(error).toBeInstanceOf(HubUnavailableError);
    expect(error.message).toContain("text/html");
    expect(error.message).not.toContain("maintenance");
    expect(server.requests).toHaveLength(3);
  });

  it("returns the page when a body cut short is followed by a whole one", async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(server.requests.length === 1 ? '{"feed": {"entry": [' : '{"feed": {}}');
    });

    await expect(getJson(`${server.url}/x`, FAST)).resolves.toEqual({ feed: {} });
    expect(server.requests).toHaveLength(2);
  });

  it("maps a refused connection to HubUnavailableError", async () => {
    const server = await startTestServer((_req, res) => sendJson(res, {}));
    await server.close();

    const error = await rejection(getJson(`${server.url}/x`, { ...FAST, retries: 1 }));

    expect(error).toBeInstanceOf(HubUnavailableError);
    expect(error.message).toMatch(/ECONNREFUSED/);
  });

  it("maps a timeout to HubUnavailableError", async () => {
    const server = await serve(() => {
      // never answers
    });

    const error = await rejection(getJson(`${server.url}/x`, { ...FAST, retries: 0, timeoutMs: 100 }));

    expect(error).toBeInstanceOf(HubUnavailableError);
    expect(error.message).toMatch(/timeout/i);
  });

  it("stops retrying when the signal aborts and rejects with its reason", async () => {
    const server = await serve((_req, res) => sendJson(res, {}, 503));
    const controller = new AbortController();
    const reason = new Error("time budget spent");
    setTimeout(() => controller.abort(reason), 150);

    const error = await rejection(
      getJson(`${server.url}/x`, {
        retries: 10,
        minTimeoutMs: 100,
        maxTimeoutMs: 100,
        signal: controller.signal,
      }),
    );

    expect(error).toBe(reason);
    expect(server.requests.length).toBeLessThanOrEqual(3);
  });

  it("never puts the password in an error, its cause or its JSON", async () => {
    const password = "Sup3rS3cret-Pa55";
    const server = await serve((_req, res) => sendJson(res, "no", 403));
    const url = new URL(`${server.url}/x`);
    url.username = "bob";
    url.password = password;
    const authorize = basicAuth({ username: "bob", password });
    const encoded = Buffer.from(`bob:${password}`).toString("base64");

    const refused = await rejection(getJson(url.toString(), { ...FAST, authorize }));
    await server.close();
    const unreachable = await rejection(getJson(url.toString(), { ...FAST, retries: 0, authorize }));

    for (const error of [refused, unreachable]) {
      const text = [error.message, String(error.url), error.cause?.message, JSON.stringify(error)].join(" ");
      expect(text).not.toContain(password);
      expect(text).not.toContain(encoded);
    }
    expect(refused).toBeInstanceOf(HubAuthError);
    expect(unreachable).toBeInstanceOf(HubUnavailableError);
  });

  it("rejects a bad option before any request", async () => {
    await expect(getJson("http://127.0.0.1:1/x", { retries: -1 })).rejects.toMatchObject({
      name: "InvalidInputError",
      field: "retries",
    });
    await expect(getJson("ftp://127.0.0.1/x")).rejects.toBeInstanceOf(InvalidInputError);
  });
});

describe("parseRetryAfter", () => {
  it("reads delta-seconds and HTTP-dates", () => {
    const now = Date.parse("2024-01-01T00:00:00.000Z");

    expect(parseRetryAfter("7", now)).toBe(7);
    expect(parseRetryAfter("Mon, 01 Jan 2024 00:00:30 GMT", now)).toBe(30);
    expect(parseRetryAfter("Sun, 31 Dec 2023 23:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe("redactUrl", () => {
  it("drops userinfo and keeps the rest", () => {
    expect(redactUrl("https://u:p@hub.example/dhus/search?q=a")).toBe("https://hub.example/dhus/search?q=a");
  });
});

describe("getJson size cap", () => {
  it("refuses an endless 200 body once it passes the cap, typed and retryable, on every attempt", async () => {
    let bytesSent = 0;
    const server = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"feed":{"entry":[');
      const chunk = Buffer.from(`${'{"id":"x"},'.repeat(6000)}`);
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) bytesSent += chunk.length;
        if (!res.destroyed) res.once("drain", pump);
      };
      res.on("close", () => res.removeAllListeners("drain"));
      pump();
    });

    const error = await rejection(
      getJson(`${server.url}/x`, { ...FAST, retries: 1, maxJsonBytes: 256 * 1024 }),
    );

    expect(error).toBeInstanceOf(HubAnswerTooLargeError);
    expect(error).toMatchObject({ name: "HubAnswerTooLargeError", retryable: true, maxBytes: 256 * 1024 });
    expect(server.requests).toHaveLength(2);
    // Cut near the cap (socket buffers aside), not after megabytes.
    expect(bytesSent).toBeLessThan(2 * 8 * 1024 * 1024);
  });

  it("refuses a body whose Content-Length is over the cap without reading it", async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": 10_000 });
      res.end("x".repeat(10_000));
    });

    const error = await rejection(getJson(`${server.url}/x`, { ...FAST, retries: 0, maxJsonBytes: 1000 }));

    expect(error).toMatchObject({ name: "HubAnswerTooLargeError" });
    expect(error.message).toContain("10000 bytes (Content-Length)");
  });

  it("reads a body of exactly the cap", async () => {
    const body = JSON.stringify({ pad: "y".repeat(1000) });
    const server = await serve((_req, res) => sendJson(res, JSON.parse(body)));

    await expect(getJson(`${server.url}/x`, { ...FAST, maxJsonBytes: body.length })).resolves.toEqual(
      JSON.parse(body),
    );
  });
});

describe("openStream", () => {
  const bytes = Buffer.from("0123456789abcdefghij");

  it("sends Range from the offset and reports a honoured 206", async () => {
    const server = await serve((req, res) => sendBytes(req, res, bytes));

    const opened = await openStream(`${server.url}/$value`, { ...FAST, offset: 5 });

    expect(opened).toMatchObject({ status: 206, offset: 5, contentLength: 15 });
    expect((await buffer(opened.body)).toString()).toBe("56789abcdefghij");
    expect(server.requests[0]?.headers.range).toBe("bytes=5-");
  });

  it("reports offset 0 when the hub ignores Range and answers 200", async () => {
    const server = await serve((req, res) => sendBytes(req, res, bytes, { ignoreRange: true }));

    const opened = await openStream(`${server.url}/$value`, { ...FAST, offset: 5 });

    expect(opened).toMatchObject({ status: 200, offset: 0, contentLength: 20 });
    expect(await buffer(opened.body)).toEqual(bytes);
  });

  it("sends no Range from offset 0", async () => {
    const server = await serve((req, res) => sendBytes(req, res, bytes));

    const opened = await openStream(`${server.url}/$value`, FAST);
    await buffer(opened.body);

    expect(opened.offset).toBe(0);
    expect(server.requests[0]?.headers.range).toBeUndefined();
  });

  it("maps statuses before returning a body", async () => {
    const server = await serve((req, res) => {
      const status = Number(req.url?.slice(1));
      sendJson(res, "x", status);
    });
    const goneError = (status: number) => new GranuleGoneError("g-2", status);

    await expect(openStream(`${server.url}/410`, { ...FAST, goneError })).rejects.toMatchObject({
      name: "GranuleGoneError",
      status: 410,
    });
    await expect(openStream(`${server.url}/401`, FAST)).rejects.toBeInstanceOf(HubAuthError);
    await expect(openStream(`${server.url}/500`, { ...FAST, retries: 0 })).rejects.toBeInstanceOf(
      HubUnavailableError,
    );
    await expect(openStream(`${server.url}/202`, { ...FAST, retries: 0 })).rejects.toBeInstanceOf(
      HubUnavailableError,
    );
  });

  it("reports where a 206 body really starts, and the complete length, when it starts elsewhere than asked", async () => {
    const server = await serve((_req, res) => {
      res.writeHead(206, { "content-range": "bytes 0-19/20", "content-length": 20 });
      res.end(bytes);
    });

    const opened = await openStream(`${server.url}/$value`, { ...FAST, offset: 5 });
    opened.body.destroy();

    // The transfer decides what to do with a body it cannot append (a clean restart), not openStream.
    expect(opened).toMatchObject({ status: 206, offset: 0, contentLength: 20, totalLength: 20 });
  });

  it("keeps the auth header on a same-origin redirect", async () => {
    const server = await serve((req, res) => {
      if (req.url === "/start") {
        res.writeHead(302, { location: "/data" });
        res.end();
      } else sendBytes(req, res, bytes);
    });
    const authorize = () => ({ Authorization: "Bearer t0ken" });

    const opened = await openStream(`${server.url}/start`, { ...FAST, authorize });
    await buffer(opened.body);

    expect(server.requests.map((r) => [r.url, r.headers.authorization])).toEqual([
      ["/start", "Bearer t0ken"],
      ["/data", "Bearer t0ken"],
    ]);
  });

  it("carries the auth header to a trusted host and drops it for any other", async () => {
    const storage = await serve((req, res) => sendBytes(req, res, bytes));
    const front = await serve((_req, res) => {
      res.writeHead(307, { location: `${storage.url}/zipper` });
      res.end();
    });
    const authorize = () => ({ authorization: "Bearer t0ken" });

    await buffer((await openStream(`${front.url}/$value`, { ...FAST, authorize })).body);
    await buffer(
      (await openStream(`${front.url}/$value`, { ...FAST, authorize, trustedRedirectHosts: ["127.0.0.1"] }))
        .body,
    );

    expect(storage.requests.map((r) => r.headers.authorization)).toEqual([undefined, "Bearer t0ken"]);
  });
});
