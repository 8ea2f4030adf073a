import { randomUUID } from "node:crypto";
import type { MockProduct } from "./catalogue";
import { parseCdseFilter } from "./cdse-filter";
import type { HubContext } from "./context";
import { json, type MockRequest, type MockResponse } from "./http";

/** CDSE's limits per user: one running subscription, ten in all (running and paused). */
export const MAX_RUNNING_SUBSCRIPTIONS = 1;
export const MAX_SUBSCRIPTIONS = 10;

const EVENTS = ["created", "modified", "deleted"] as const;
const STATUSES = ["running", "paused", "cancelled"] as const;
const SUBSCRIPTION_PATH = /^\/odata\/v1\/Subscriptions\('?([0-9a-fA-F-]+)'?\)$/;

/** A subscription as the catalogue keeps it; the endpoint password is never sent back. */
interface MockSubscription {
  Id: string;
  OwnerId: string;
  SubscriptionType: "push" | "pull";
  Status: (typeof STATUSES)[number];
  SubscriptionEvent: string[];
  FilterParam: string;
  StageOrder: boolean;
  Priority: number;
  NotificationEndpoint?: string;
  NotificationEpUsername?: string;
  SubmissionDate: string;
  LastNotificationDate: string | null;
  password?: string;
}

// Per hub context, so two mock hubs in one process never share subscriptions (HubContext stays untouched).
const SUBSCRIPTIONS = new WeakMap<HubContext, Map<string, MockSubscription>>();

function subscriptionsOf(ctx: HubContext): Map<string, MockSubscription> {
  let found = SUBSCRIPTIONS.get(ctx);
  if (found === undefined) {
    found = new Map();
    SUBSCRIPTIONS.set(ctx, found);
  }
  return found;
}

/**
 * Routes CDSE's catalogue subscriptions API (`/odata/v1/Subscriptions`, bearer auth) and the mock's
 * `POST /__mock/push` helper, which delivers a notification for a catalogue product to the endpoint of a
 * push subscription; undefined when the path is neither.
 */
export function handleSubscriptions(
  ctx: HubContext,
  req: MockRequest,
): MockResponse | Promise<MockResponse> | undefined {
  if (req.path === "/__mock/push") return deliverPush(ctx, req);
  const single = SUBSCRIPTION_PATH.exec(req.path);
  if (req.path !== "/odata/v1/Subscriptions" && single === null) return undefined;
  const auth = ctx.tokens.authorize(req.headers.authorization);
  if (!("user" in auth)) return json(auth.status, auth.body);
  const mine = [...subscriptionsOf(ctx).values()].filter((s) => s.OwnerId === auth.user);
  if (single === null) {
    if (req.method === "GET")
      return json(200, { "@odata.context": "$metadata#Subscriptions", value: mine.map(publicView) });
    if (req.method === "POST") return create(ctx, req, auth.user, mine);
    return json(405, { detail: "Method Not Allowed" });
  }
  const subscription = mine.find((s) => s.Id.toLowerCase() === (single[1] ?? "").toLowerCase());
  if (subscription === undefined) return json(404, { detail: `Subscription ${single[1]} not found` });
  if (req.method === "GET")
    return json(200, { "@odata.context": "$metadata#Subscriptions/$entity", ...publicView(subscription) });
  if (req.method === "DELETE") {
    subscriptionsOf(ctx).delete(subscription.Id);
    return { status: 204, headers: {}, body: "" };
  }
  return json(405, { detail: "Method Not Allowed" });
}

function create(ctx: HubContext, req: MockRequest, user: string, mine: MockSubscription[]): MockResponse {
  let body: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(req.body);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new TypeError();
    body = parsed as Record<string, unknown>;
  } catch {
    return invalid("body", "the body must be a JSON object");
  }
  const type = body.SubscriptionType;
  // Required since 8 July 2025, lower case only.
  if (type !== "push" && type !== "pull") return invalid("SubscriptionType", "must be 'push' or 'pull'");
  const events = body.SubscriptionEvent ?? ["created"];
  if (
    !Array.isArray(events) ||
    events.length === 0 ||
    !events.every((e) => (EVENTS as readonly unknown[]).includes(e))
  )
    return invalid("SubscriptionEvent", `must be a non-empty list of ${EVENTS.join(", ")}`);
  const status = body.Status ?? "running";
  if (status !== "running" && status !== "paused") return invalid("Status", "must be 'running' or 'paused'");
  const filter = body.FilterParam ?? "";
  if (typeof filter !== "string") return invalid("FilterParam", "must be a string");
  try {
    parseCdseFilter(filter);
  } catch (error) {
    return json(400, { detail: `FilterParam: ${(error as Error).message}` });
  }
  const endpoint = body.NotificationEndpoint;
  const username = body.NotificationEpUsername;
  const password = body.NotificationEpPassword;
  if (type === "push") {
    if (
      typeof endpoint !== "string" ||
      !URL.canParse(endpoint) ||
      !/^https?:$/.test(new URL(endpoint).protocol)
    )
      return invalid("NotificationEndpoint", "a push subscription needs an http(s) endpoint");
    if (typeof username !== "string" || username === "" || typeof password !== "string" || password === "")
      return invalid(
        "NotificationEpPassword",
        "a push subscription needs the endpoint's username and password",
      );
  }
  if (mine.length >= MAX_SUBSCRIPTIONS)
    return json(403, { detail: `Limit of subscriptions (${MAX_SUBSCRIPTIONS}) reached` });
  if (status === "running" && mine.filter((s) => s.Status === "running").length >= MAX_RUNNING_SUBSCRIPTIONS)
    return json(403, { detail: `Limit of running subscriptions (${MAX_RUNNING_SUBSCRIPTIONS}) reached` });
  const subscription: MockSubscription = {
    Id: randomUUID(),
    OwnerId: user,
    SubscriptionType: type,
    Status: status,
    SubscriptionEvent: events as string[],
    FilterParam: filter,
    StageOrder: body.StageOrder !== false,
    Priority: typeof body.Priority === "number" ? body.Priority : 1,
    SubmissionDate: new Date(ctx.now()).toISOString(),
    LastNotificationDate: null,
    ...(type === "push" && {
      NotificationEndpoint: endpoint as string,
      NotificationEpUsername: username as string,
      password: password as string,
    }),
  };
  subscriptionsOf(ctx).set(subscription.Id, subscription);
  return json(201, { "@odata.context": "$metadata#Subscriptions/$entity", ...publicView(subscription) });
}

/** FastAPI's validation error shape, which the catalogue answers with. */
function invalid(field: string, message: string): MockResponse {
  return json(422, { detail: [{ loc: ["body", field], msg: message, type: "value_error" }] });
}

function publicView(subscription: MockSubscription): Omit<MockSubscription, "password" | "OwnerId"> {
  const { password: _password, OwnerId: _owner, ...rest } = subscription;
  return rest;
}

/**
 * `POST /__mock/push {productId, subscriptionId?, event?}`: posts the notification CDSE would send for a
 * catalogue product to the subscription's endpoint with its Basic credentials, and answers what the
 * endpoint answered. Without subscriptionId, the one running push subscription is used.
 */
async function deliverPush(ctx: HubContext, req: MockRequest): Promise<MockResponse> {
  if (req.method !== "POST") return json(405, { detail: "POST {productId, subscriptionId?, event?}" });
  let input: { productId?: unknown; subscriptionId?: unknown; event?: unknown };
  try {
    input = JSON.parse(req.body === "" ? "{}" : req.body) as typeof input;
  } catch {
    return json(400, { detail: "the body must be JSON" });
  }
  const product = typeof input.productId === "string" ? ctx.catalogue.get(input.productId) : undefined;
  if (product === undefined) return json(404, { detail: `no catalogue product ${String(input.productId)}` });
  const running = [...subscriptionsOf(ctx).values()].filter(
    (s) => s.SubscriptionType === "push" && s.Status === "running",
  );
  const subscription =
    input.subscriptionId === undefined
      ? running.length === 1
        ? running[0]
        : undefined
      : running.find((s) => s.Id === input.subscriptionId);
  if (subscription === undefined)
    return json(404, { detail: "name a running push subscription (subscriptionId)" });
  const event = typeof input.event === "string" ? input.event : "created";
  if (!subscription.SubscriptionEvent.includes(event))
    return json(409, { detail: `the subscription does not ask for ${event} events` });
  if (!parseCdseFilter(subscription.FilterParam)(product))
    return json(409, { detail: `product ${product.id} does not match the subscription's FilterParam` });
  const notification = {
    "@odata.context": "$metadata#Notification/$entity",
    SubscriptionEvent: event,
    ProductId: product.id,
    ProductName: `${product.name}.SAFE`,
    SubscriptionId: subscription.Id,
    NotificationDate: new Date(ctx.now()).toISOString(),
    value: await productValue(ctx, product),
  };
  const authorization = `Basic ${Buffer.from(`${subscription.NotificationEpUsername}:${subscription.password}`).toString("base64")}`;
  let status: number;
  try {
    const response = await fetch(subscription.NotificationEndpoint ?? "", {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify(notification),
      signal: AbortSignal.timeout(10_000),
    });
    status = response.status;
    await response.arrayBuffer();
  } catch (error) {
    return json(502, { detail: `delivery failed: ${(error as Error).message}` });
  }
  subscription.LastNotificationDate = notification.NotificationDate;
  return json(200, { delivered: status >= 200 && status < 300, status, notification });
}

/** The product as a notification's `value` carries it: the catalogue entry with Checksum and Attributes. */
async function productValue(ctx: HubContext, p: MockProduct): Promise<Record<string, unknown>> {
  const attribute = (name: string, value: unknown, type = "String") => ({
    "@odata.type": `#OData.CSC.${type}Attribute`,
    Name: name,
    Value: value,
    ValueType: type,
  });
  return {
    "@odata.mediaContentType": "application/octet-stream",
    Id: p.id,
    Name: `${p.name}.SAFE`,
    ContentType: "application/octet-stream",
    ContentLength: p.sizeBytes,
    OriginDate: p.publishedAt,
    PublicationDate: p.publishedAt,
    ModificationDate: p.publishedAt,
    Online: true,
    Checksum: [
      { Value: await ctx.catalogue.expectedMd5Async(p.id), Algorithm: "MD5", ChecksumDate: p.publishedAt },
    ],
    ContentDate: { Start: p.sensingStart, End: p.sensingEnd },
    Attributes: [
      attribute("productType", "S2MSI1C"),
      attribute("platformShortName", "SENTINEL-2"),
      attribute("platformSerialIdentifier", p.platform.slice(2)),
      attribute("tileId", p.tileId),
      attribute("relativeOrbitNumber", p.relativeOrbit, "Integer"),
      attribute("cloudCover", p.cloudCover, "Double"),
    ],
  };
}
