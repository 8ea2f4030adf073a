import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { createCatalogue, startMockHub } from "@hls-s2/mock-hub";
import { aPushNotification } from "@hls-s2/testing/push";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it, vi } from "vitest";
import { basicAuthMatches, parseBasicAuth, safeEqual } from "../src/lib/basic-auth";
import { configureRuntime } from "../src/lib/runtime";
import { handler } from "../src/receive-push";
import { lambdaEnv, useLocalTable } from "./helpers/local";

const PUSH = { username: "cdse-push", password: "correct horse battery staple" };

const table = useLocalTable();

function useLocalRuntime(env: Record<string, string> = {}): void {
  configureRuntime({
    env: lambdaEnv({ HUB_KIND: "cdse", ...env }),
    clients: { dynamo: table.documentClient },
    credentials: { push: PUSH },
  });
}

function basic(credentials: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`;
}

/** A "created" notification for a fresh L1C product published today, on tile 32TQM unless told. */
function aNotification(options: { tileId?: string; level?: string } = {}) {
  return aPushNotification({ ...options, notifiedAt: new Date() });
}

/** A Lambda function URL event (payload format 2.0). */
function aRequest(
  options: { body?: unknown; authorization?: string; method?: string; path?: string; base64?: boolean } = {},
): APIGatewayProxyEventV2 {
  const text = typeof options.body === "string" ? options.body : JSON.stringify(options.body ?? {});
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: options.path ?? "/events",
    rawQueryString: "",
    headers,
    body: options.base64 ? Buffer.from(text).toString("base64") : text,
    isBase64Encoded: options.base64 ?? false,
    requestContext: {
      http: {
        method: options.method ?? "POST",
        path: options.path ?? "/events",
        protocol: "HTTP/1.1",
        sourceIp: "127.0.0.1",
        userAgent: "test",
      },
    },
  } as unknown as APIGatewayProxyEventV2;
}

describe("constant-time credential compare", () => {
  it("is true for equal strings and false for different ones of the same length", () => {
    expect(safeEqual("s3cret-value", "s3cret-value")).toBe(true);
    expect(safeEqual("s3cret-value", "s3cret-valuf")).toBe(false);
  });

  it("answers false for strings of different lengths without throwing", () => {
    expect(() => safeEqual("short", "a much longer expected secret")).not.toThrow();
    expect(safeEqual("short", "a much longer expected secret")).toBe(false);
    expect(safeEqual("", "x")).toBe(false);
  });

  it("accepts only the exact pair, and no header that is not Basic", () => {
    expect(basicAuthMatches(basic(PUSH), PUSH)).toBe(true);
    expect(basicAuthMatches(basic({ ...PUSH, username: "cdse-pusH" }), PUSH)).toBe(false);
    expect(basicAuthMatches(basic({ ...PUSH, password: `${PUSH.password} ` }), PUSH)).toBe(false);
    expect(basicAuthMatches(undefined, PUSH)).toBe(false);
    expect(basicAuthMatches("Bearer abc", PUSH)).toBe(false);
  });

  it("keeps a colon inside the password", () => {
    expect(parseBasicAuth(basic({ username: "u", password: "a:b" }))).toEqual({
      username: "u",
      password: "a:b",
    });
  });
});

const MIB = 1024 * 1024;

/** Everything the handler's logger writes while `run` runs, one string per line. */
async function capturingLogs<T>(run: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  const capture = (chunk: unknown) => {
    lines.push(String(chunk));
    return true;
  };
  const out = vi.spyOn(process.stdout, "write").mockImplementation(capture);
  const err = vi.spyOn(process.stderr, "write").mockImplementation(capture);
  try {
    return { result: await run(), lines };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("receive-push handler", () => {
  it("answers 204 to good credentials and records the pushed granule with its MD5", async () => {
    useLocalRuntime();
    const body = aNotification();

    const response = await handler(aRequest({ body, authorization: basic(PUSH) }));

    expect(response.statusCode).toBe(204);
    expect(await table.store.getGranule(body.ProductId)).toMatchObject({
      status: "DISCOVERED",
      platform: "S2A",
      checksum: { value: "aabbccddeeff00112233445566778899" },
    });
  });

  it("reads a base64-encoded body the way a function URL may deliver it", async () => {
    useLocalRuntime();
    const body = aNotification();

    const response = await handler(aRequest({ body, authorization: basic(PUSH), base64: true }));

    expect(response.statusCode).toBe(204);
    expect(await table.store.getGranule(body.ProductId)).toBeDefined();
  });

  it("answers 401 with a Basic challenge to wrong or missing credentials and writes nothing", async () => {
    useLocalRuntime();
    const body = aNotification();

    const wrong = await handler(aRequest({ body, authorization: basic({ ...PUSH, password: "guess" }) }));
    const missing = await handler(aRequest({ body }));

    for (const response of [wrong, missing]) {
      expect(response.statusCode).toBe(401);
      expect(response.headers?.["www-authenticate"]).toMatch(/^Basic realm=/);
    }
    expect(await table.store.getGranule(body.ProductId)).toBeUndefined();
  });

  it("answers 400 to an invalid notification and writes nothing", async () => {
    useLocalRuntime();
    const body = aNotification();
    const broken = { ...body, value: { ...body.value, ContentLength: "big" } };

    const invalid = await handler(aRequest({ body: broken, authorization: basic(PUSH) }));
    const notJson = await handler(aRequest({ body: "{not json", authorization: basic(PUSH) }));

    expect(invalid.statusCode).toBe(400);
    expect(JSON.parse(String(invalid.body)).detail).toMatch(/value\.ContentLength/);
    expect(notJson.statusCode).toBe(400);
    expect(await table.store.getGranule(body.ProductId)).toBeUndefined();
  });

  it("answers 413 to a body over 1 MiB, plain, multi-byte or base64, before parsing it, and writes nothing", async () => {
    useLocalRuntime();
    const parse = vi.spyOn(JSON, "parse");
    // Valid notifications that would be recorded but for their size (the schema keeps unknown keys).
    const padded = (padding: string) => {
      const body = aNotification();
      return { body, text: JSON.stringify({ ...body, padding }) };
    };
    const plain = padded("x".repeat(MIB));
    const multiByte = padded("é".repeat(MIB / 2)); // fewer UTF-16 units than 1 MiB, more UTF-8 bytes
    const base64 = padded("x".repeat(MIB));

    const responses = [
      await handler(aRequest({ body: plain.text, authorization: basic(PUSH) })),
      await handler(aRequest({ body: multiByte.text, authorization: basic(PUSH) })),
      await handler(aRequest({ body: base64.text, authorization: basic(PUSH), base64: true })),
      // Without credentials too: the size is judged first, at no Secrets Manager call.
      await handler(aRequest({ body: plain.text })),
    ];

    expect(responses.map((r) => r.statusCode)).toEqual([413, 413, 413, 413]);
    expect(JSON.parse(String(responses[0]!.body)).detail).toMatch(/1048576-byte limit/);
    expect(parse.mock.calls.filter(([text]) => String(text).length > MIB)).toEqual([]);
    for (const { body } of [plain, multiByte, base64]) {
      expect(await table.store.getGranule(body.ProductId)).toBeUndefined();
    }
  });

  it("still records a notification just under 1 MiB", async () => {
    useLocalRuntime();
    const body = aNotification();
    const bare = JSON.stringify({ ...body, padding: "" });
    const text = JSON.stringify({ ...body, padding: "x".repeat(MIB - Buffer.byteLength(bare)) });
    expect(Buffer.byteLength(text)).toBe(MIB);

    const plain = await handler(aRequest({ body: text, authorization: basic(PUSH) }));

    expect(plain.statusCode).toBe(204);
    expect(await table.store.getGranule(body.ProductId)).toBeDefined();
  });

  it("quotes at most about 100 characters of a 200 kB offending value, in the answer and in the log", async () => {
    useLocalRuntime();
    const body = aNotification();
    const broken = { ...body, value: { ...body.value, ContentLength: "9".repeat(200_000) } };

    const { result, lines } = await capturingLogs(() =>
      handler(aRequest({ body: broken, authorization: basic(PUSH) })),
    );

    expect(result.statusCode).toBe(400);
    const detail = JSON.parse(String(result.body)).detail as string;
    expect(detail).toContain("value.ContentLength");
    expect(detail).toContain(`"${"9".repeat(100)}…" (200000 characters)`);
    expect(detail.length).toBeLessThan(300);
    const warning = lines.find((line) => line.includes("invalid push notification"));
    expect(warning).toBeDefined();
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThan(4000);
    expect(await table.store.getGranule(body.ProductId)).toBeUndefined();
  });

  it('answers 400 to a PublicationDate of "1" or 9999-12-31, naming the field, and writes nothing', async () => {
    useLocalRuntime();
    const cases = ["1", "9999-12-31", "9999-12-31T00:00:00Z"].map((date) => {
      const body = aNotification();
      return { body: { ...body, value: { ...body.value, PublicationDate: date } }, date };
    });

    for (const { body, date } of cases) {
      const response = await handler(aRequest({ body, authorization: basic(PUSH) }));

      expect(response.statusCode, date).toBe(400);
      expect(JSON.parse(String(response.body)).detail, date).toMatch(
        /value\.PublicationDate .*(RFC 3339|after now)/,
      );
      expect(await table.store.getGranule(body.ProductId), date).toBeUndefined();
    }
  });

  it("answers 204 to a second push of the same product and leaves its item as it was", async () => {
    useLocalRuntime();
    const body = aNotification();
    await handler(aRequest({ body, authorization: basic(PUSH) }));
    const first = await table.store.getGranule(body.ProductId);

    const again = await handler(aRequest({ body, authorization: basic(PUSH) }));

    expect(again.statusCode).toBe(204);
    expect(await table.store.getGranule(body.ProductId)).toEqual(first);
  });

  it("answers 204 to a product outside the tile allow-list or of another level, recording nothing", async () => {
    useLocalRuntime({ TILE_ALLOW_LIST: "32TQM" });
    const otherTile = aNotification({ tileId: "31UDQ" });
    const l2a = aNotification({ level: "L2A" });

    const responses = [
      await handler(aRequest({ body: otherTile, authorization: basic(PUSH) })),
      await handler(aRequest({ body: l2a, authorization: basic(PUSH) })),
    ];

    expect(responses.map((r) => r.statusCode)).toEqual([204, 204]);
    expect(await table.store.getGranule(otherTile.ProductId)).toBeUndefined();
    expect(await table.store.getGranule(l2a.ProductId)).toBeUndefined();
  });

  it("serves POST /events only", async () => {
    useLocalRuntime();

    const get = await handler(aRequest({ method: "GET", authorization: basic(PUSH) }));
    const elsewhere = await handler(aRequest({ path: "/other", authorization: basic(PUSH) }));

    expect(get).toMatchObject({ statusCode: 405, headers: { allow: "POST" } });
    expect(elsewhere.statusCode).toBe(404);
  });

  it("reads the push credentials from Secrets Manager once per container", async () => {
    const secrets = new SecretsManagerClient({ region: "us-east-1" });
    const mock = mockClient(secrets);
    mock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(PUSH) });
    configureRuntime({
      env: lambdaEnv({ HUB_KIND: "cdse", PUSH_SECRET_ID: "push-secret" }),
      clients: { dynamo: table.documentClient, secrets },
    });

    const first = await handler(aRequest({ body: aNotification(), authorization: basic(PUSH) }));
    const second = await handler(aRequest({ body: aNotification(), authorization: basic(PUSH) }));

    expect([first.statusCode, second.statusCode]).toEqual([204, 204]);
    expect(mock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(mock.commandCalls(GetSecretValueCommand)[0]!.args[0].input).toEqual({ SecretId: "push-secret" });
  });

  it("fails without PUSH_SECRET_ID rather than accept anyone", async () => {
    configureRuntime({ env: lambdaEnv({ HUB_KIND: "cdse" }), clients: { dynamo: table.documentClient } });

    await expect(
      handler(aRequest({ body: aNotification(), authorization: basic(PUSH) })),
    ).rejects.toMatchObject({
      name: "ConfigError",
      issues: [expect.objectContaining({ key: "PUSH_SECRET_ID" })],
    });
  });
});

describe("push end to end", () => {
  it("records the product the mock hub pushes to a subscription's endpoint, with the catalogue's MD5", async () => {
    useLocalRuntime();
    const day = new Date().toISOString().slice(0, 10);
    const hub = await startMockHub({
      catalogue: createCatalogue({
        seed: `push-${randomUUID()}`,
        days: [day],
        granulesPerDay: 2,
        sizeBytes: 2048,
      }),
    });
    // The function URL in miniature: an HTTP request becomes a payload 2.0 event for the handler.
    const endpoint = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const event = aRequest({
          body: Buffer.concat(chunks).toString("utf8"),
          authorization: req.headers.authorization,
        });
        handler(event).then(
          (reply) =>
            res.writeHead(reply.statusCode ?? 500, reply.headers as Record<string, string>).end(reply.body),
          () => res.writeHead(502).end(),
        );
      });
    });
    await new Promise<void>((resolve) => endpoint.listen(0, "127.0.0.1", resolve));
    try {
      const tokenAnswer = await fetch(`${hub.url}/auth/realms/CDSE/protocol/openid-connect/token`, {
        method: "POST",
        body: new URLSearchParams({
          grant_type: "password",
          client_id: "cdse-public",
          username: "u",
          password: "p",
        }),
      });
      const { access_token: token } = (await tokenAnswer.json()) as { access_token: string };
      const created = await fetch(`${hub.url}/odata/v1/Subscriptions`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({
          SubscriptionType: "push",
          SubscriptionEvent: ["created"],
          FilterParam: "Collection/Name eq 'SENTINEL-2'",
          NotificationEndpoint: `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/events`,
          NotificationEpUsername: PUSH.username,
          NotificationEpPassword: PUSH.password,
        }),
      });
      expect(created.status).toBe(201);
      const product = hub.catalogue.products[0]!;

      const pushed = await fetch(`${hub.url}/__mock/push`, {
        method: "POST",
        body: JSON.stringify({ productId: product.id }),
      });
      const again = await fetch(`${hub.url}/__mock/push`, {
        method: "POST",
        body: JSON.stringify({ productId: product.id }),
      });

      expect(await pushed.json()).toMatchObject({ delivered: true, status: 204 });
      expect(await again.json()).toMatchObject({ delivered: true, status: 204 });
      expect(await table.store.getGranule(product.id)).toMatchObject({
        status: "DISCOVERED",
        name: product.name,
        day,
        attempts: 0,
        checksum: { algorithm: "MD5", value: hub.catalogue.expectedMd5(product.id) },
      });
    } finally {
      await new Promise<void>((resolve) => endpoint.close(() => resolve()));
      await hub.close();
    }
  });
});
