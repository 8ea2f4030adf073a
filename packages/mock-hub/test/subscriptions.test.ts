import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { MockHub } from "../src/index";
import { basic, cdseToken, firstId, startHub } from "./helpers/hub";

const L1C_FILTER =
  "Collection/Name eq 'SENTINEL-2' and Attributes/OData.CSC.StringAttribute/any(att:att/Name eq 'productType' and att/OData.CSC.StringAttribute/Value eq 'S2MSI1C')";
const ENDPOINT_USER = { username: "cdse-push", password: "endpoint-secret" };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function hub(): Promise<MockHub> {
  const started = await startHub();
  cleanups.push(() => started.close());
  return started;
}

interface Received {
  authorization?: string;
  body: Record<string, unknown>;
}

/** A push endpoint on loopback that records what it receives and answers `status`. */
async function receiver(status = 204): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({
        authorization: req.headers.authorization,
        body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>,
      });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, received };
}

async function createPush(target: MockHub, token: string, endpoint: string, extra: object = {}) {
  return fetch(`${target.url}/odata/v1/Subscriptions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({
      StageOrder: true,
      FilterParam: L1C_FILTER,
      Priority: 1,
      NotificationEndpoint: endpoint,
      NotificationEpUsername: ENDPOINT_USER.username,
      NotificationEpPassword: ENDPOINT_USER.password,
      Status: "running",
      SubscriptionEvent: ["created"],
      SubscriptionType: "push",
      ...extra,
    }),
  });
}

describe("CDSE subscriptions routes", () => {
  it("creates, lists, reads and deletes a push subscription without ever echoing the endpoint password", async () => {
    const target = await hub();
    const { access_token: token } = await cdseToken(target);
    const bearer = { authorization: `Bearer ${token}` };

    const created = await createPush(target, token, "https://example.org/events");
    const entity = (await created.json()) as Record<string, unknown>;
    const listed = (await (
      await fetch(`${target.url}/odata/v1/Subscriptions`, { headers: bearer })
    ).json()) as {
      value: { Id: string }[];
    };
    const one = await fetch(`${target.url}/odata/v1/Subscriptions(${entity.Id})`, { headers: bearer });
    const deleted = await fetch(`${target.url}/odata/v1/Subscriptions(${entity.Id})`, {
      method: "DELETE",
      headers: bearer,
    });
    const after = (await (
      await fetch(`${target.url}/odata/v1/Subscriptions`, { headers: bearer })
    ).json()) as {
      value: unknown[];
    };

    expect(created.status).toBe(201);
    expect(entity).toMatchObject({
      Status: "running",
      SubscriptionType: "push",
      NotificationEndpoint: "https://example.org/events",
      NotificationEpUsername: "cdse-push",
    });
    expect(JSON.stringify(entity)).not.toContain(ENDPOINT_USER.password);
    expect(listed.value.map((s) => s.Id)).toEqual([entity.Id]);
    expect(one.status).toBe(200);
    expect(deleted.status).toBe(204);
    expect(after.value).toEqual([]);
  });

  it("answers 401 without a bearer token", async () => {
    const target = await hub();

    const response = await fetch(`${target.url}/odata/v1/Subscriptions`, {
      headers: { authorization: basic() },
    });

    expect(response.status).toBe(401);
  });

  it("refuses a subscription without SubscriptionType or a push one without endpoint credentials", async () => {
    const target = await hub();
    const { access_token: token } = await cdseToken(target);

    const untyped = await createPush(target, token, "https://example.org/events", {
      SubscriptionType: undefined,
    });
    const noPassword = await createPush(target, token, "https://example.org/events", {
      NotificationEpPassword: "",
    });

    expect(untyped.status).toBe(422);
    expect(noPassword.status).toBe(422);
  });

  it("allows one running subscription per user, like CDSE", async () => {
    const target = await hub();
    const { access_token: token } = await cdseToken(target);

    await createPush(target, token, "https://example.org/a");
    const second = await createPush(target, token, "https://example.org/b");

    expect(second.status).toBe(403);
  });

  it("answers 404 for another user's subscription and lists only the caller's", async () => {
    // Without configured credentials the mock accepts any user, so two accounts can be compared.
    const target = await startHub({ credentials: undefined });
    cleanups.push(() => target.close());
    const alice = (await cdseToken(target, { username: "alice", password: "a" })).access_token;
    const bob = (await cdseToken(target, { username: "bob", password: "b" })).access_token;
    const entity = (await (await createPush(target, alice, "https://example.org/events")).json()) as {
      Id: string;
    };

    const asBob = await fetch(`${target.url}/odata/v1/Subscriptions(${entity.Id})`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${bob}` },
    });
    const bobsList = (await (
      await fetch(`${target.url}/odata/v1/Subscriptions`, { headers: { authorization: `Bearer ${bob}` } })
    ).json()) as { value: unknown[] };

    expect(asBob.status).toBe(404);
    expect(bobsList.value).toEqual([]);
  });
});

describe("POST /__mock/push", () => {
  it("delivers a created notification for a catalogue product with the subscription's Basic credentials", async () => {
    const target = await hub();
    const endpoint = await receiver();
    const { access_token: token } = await cdseToken(target);
    const subscription = (await (await createPush(target, token, endpoint.url)).json()) as { Id: string };
    const productId = firstId(target);
    const product = target.catalogue.get(productId)!;

    const response = await fetch(`${target.url}/__mock/push`, {
      method: "POST",
      body: JSON.stringify({ productId }),
    });

    expect(await response.json()).toMatchObject({ delivered: true, status: 204 });
    expect(endpoint.received).toHaveLength(1);
    expect(endpoint.received[0]!.authorization).toBe(basic(ENDPOINT_USER));
    expect(endpoint.received[0]!.body).toMatchObject({
      SubscriptionEvent: "created",
      ProductId: productId,
      ProductName: `${product.name}.SAFE`,
      SubscriptionId: subscription.Id,
      value: {
        Id: productId,
        Name: `${product.name}.SAFE`,
        ContentLength: product.sizeBytes,
        PublicationDate: product.publishedAt,
        Checksum: [{ Algorithm: "MD5", Value: target.catalogue.expectedMd5(productId) }],
      },
    });
  });

  it("reports the endpoint's refusal instead of hiding it", async () => {
    const target = await hub();
    const endpoint = await receiver(401);
    const { access_token: token } = await cdseToken(target);
    await createPush(target, token, endpoint.url);

    const response = await fetch(`${target.url}/__mock/push`, {
      method: "POST",
      body: JSON.stringify({ productId: firstId(target) }),
    });

    expect(await response.json()).toMatchObject({ delivered: false, status: 401 });
  });

  it("answers 404 without a running push subscription or for an unknown product", async () => {
    const target = await hub();

    const noSubscription = await fetch(`${target.url}/__mock/push`, {
      method: "POST",
      body: JSON.stringify({ productId: firstId(target) }),
    });
    const noProduct = await fetch(`${target.url}/__mock/push`, {
      method: "POST",
      body: JSON.stringify({ productId: "nope" }),
    });

    expect(noSubscription.status).toBe(404);
    expect(noProduct.status).toBe(404);
  });
});
