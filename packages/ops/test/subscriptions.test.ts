import {
  CdseTokenManager,
  createSubscription,
  L1C_FILTER,
  listSubscriptions,
  pushSubscriptionRequest,
  terminateSubscription,
} from "@hls-s2/core/hub";
import { createCatalogue, type MockHub, startMockHub } from "@hls-s2/mock-hub";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSubscriptionsCli } from "../src/subscriptions";

const ACCOUNT = { username: "operator", password: "cdse-account-secret" };
const PUSH = { username: "cdse-push", password: "push-endpoint-secret" };
const ENDPOINT = "https://push.example.org/events";

let hub: MockHub;

beforeAll(async () => {
  // No configured account: the mock accepts any user, so each test owns its subscriptions by username.
  hub = await startMockHub({
    catalogue: createCatalogue({ seed: "ops", days: ["2026-01-01"], granulesPerDay: 1, sizeBytes: 1000 }),
  });
});
afterAll(() => hub.close());

let accounts = 0;
/** A fresh CDSE account name, so CDSE's one-running-subscription limit never couples two tests. */
function anAccount() {
  accounts += 1;
  return { username: `operator-${accounts}`, password: ACCOUNT.password };
}

function tokensFor(account: { username: string; password: string }) {
  return new CdseTokenManager({
    tokenUrl: `${hub.url}/auth/realms/CDSE/protocol/openid-connect/token`,
    credentials: account,
  });
}

async function cli(argv: string[], account = anAccount(), extraEnv: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const env = {
    CDSE_USERNAME: account.username,
    CDSE_PASSWORD: account.password,
    PUSH_USERNAME: PUSH.username,
    PUSH_PASSWORD: PUSH.password,
    ...extraEnv,
  };
  const code = await runSubscriptionsCli(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("the subscriptions client", () => {
  it("builds CDSE's push request: running, created events, L1C filter, typed push", () => {
    expect(pushSubscriptionRequest({ endpoint: ENDPOINT, credentials: PUSH })).toEqual({
      StageOrder: true,
      FilterParam: L1C_FILTER,
      Priority: 1,
      NotificationEndpoint: ENDPOINT,
      NotificationEpUsername: PUSH.username,
      NotificationEpPassword: PUSH.password,
      Status: "running",
      SubscriptionEvent: ["created"],
      SubscriptionType: "push",
    });
  });

  it("refuses a plain-http endpoint off loopback, which would expose the Basic credentials", () => {
    expect(() =>
      pushSubscriptionRequest({ endpoint: "http://push.example.org/events", credentials: PUSH }),
    ).toThrow(expect.objectContaining({ name: "InvalidInputError", field: "endpoint" }));
  });

  it("creates, lists and terminates a subscription with a bearer token", async () => {
    const options = { catalogueUrl: hub.url, tokens: tokensFor(anAccount()) };

    const created = await createSubscription({ endpoint: ENDPOINT, credentials: PUSH }, options);
    const listed = await listSubscriptions(options);
    await terminateSubscription(created.Id, options);

    expect(created).toMatchObject({
      Status: "running",
      SubscriptionType: "push",
      NotificationEndpoint: ENDPOINT,
    });
    expect(listed.map((s) => s.Id)).toEqual([created.Id]);
    expect(await listSubscriptions(options)).toEqual([]);
  });

  it("names the hub's refusal of a second running subscription", async () => {
    const options = { catalogueUrl: hub.url, tokens: tokensFor(anAccount()) };
    await createSubscription({ endpoint: ENDPOINT, credentials: PUSH }, options);

    await expect(
      createSubscription({ endpoint: ENDPOINT, credentials: PUSH }, options),
    ).rejects.toMatchObject({
      name: "HubAuthError",
      message: expect.stringContaining("Limit of running subscriptions"),
    });
  });
});

describe("npm run subscriptions", () => {
  it("creates, lists and terminates against --hub-url without printing a credential", async () => {
    const account = anAccount();

    const created = await cli(["create", "--endpoint", ENDPOINT, "--hub-url", hub.url, "--json"], account);
    const id = (JSON.parse(created.out) as { Id: string }).Id;
    const listed = await cli(["list", "--hub-url", hub.url], account);
    const terminated = await cli(["terminate", "--id", id, "--hub-url", hub.url], account);
    const after = await cli(["list", "--hub-url", hub.url], account);

    expect([created.code, listed.code, terminated.code, after.code]).toEqual([0, 0, 0, 0]);
    expect(listed.out).toContain(id);
    expect(listed.out).toContain(ENDPOINT);
    expect(terminated.out).toBe(`terminated ${id}`);
    expect(after.out).toBe("no subscriptions");
    const printed = [created, listed, terminated, after].map((r) => r.out + r.err).join("\n");
    expect(printed).not.toContain(ACCOUNT.password);
    expect(printed).not.toContain(PUSH.password);
  });

  it("exits 2 on bad flags, a missing command or a missing required flag", async () => {
    const results = [
      await cli(["list", "--bogus"]),
      await cli([]),
      await cli(["create", "--hub-url", hub.url]),
      await cli(["terminate"]),
      await cli(["create", "--endpoint", "http://push.example.org/events", "--hub-url", hub.url]),
    ];

    expect(results.map((r) => r.code)).toEqual([2, 2, 2, 2, 2]);
    expect(results[0]!.err).toContain("Usage: npm run subscriptions");
  });

  it("exits 3 naming the missing credentials, never their values", async () => {
    const result = await cli(["create", "--endpoint", ENDPOINT, "--hub-url", hub.url], anAccount(), {
      PUSH_PASSWORD: "",
    });

    expect(result.code).toBe(3);
    expect(result.err).toBe("set PUSH_PASSWORD in the environment");
  });

  it("exits 1 with the hub's reason when CDSE refuses", async () => {
    const result = await cli([
      "terminate",
      "--id",
      "00000000-0000-0000-0000-000000000000",
      "--hub-url",
      hub.url,
    ]);

    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^InvalidInputError: .*HTTP 404/);
  });
});
