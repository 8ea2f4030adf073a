import * as v from "valibot";
import {
  describeIssues,
  HubUnavailableError,
  InvalidHubDataError,
  InvalidInputError,
} from "../../../domain/errors";
import type { Credentials } from "../auth";
import { hubStatusError } from "../failure";
import { hubBaseUrl } from "../url";
import type { CdseTokenManager } from "./token";

/**
 * CDSE's push subscriptions API (`/odata/v1/Subscriptions` on the catalogue, bearer auth): the client
 * the operator's `npm run subscriptions` drives.
 */

/** The CDSE OData catalogue, which also serves the subscriptions API. */
export const CDSE_CATALOGUE_URL = "https://catalogue.dataspace.copernicus.eu";

/** Every Sentinel-2 Level-1C product: the downloader's own filters (tiles, platforms, age) apply on receipt. */
export const L1C_FILTER =
  "Collection/Name eq 'SENTINEL-2' and Attributes/OData.CSC.StringAttribute/any(att:att/Name eq 'productType' and att/OData.CSC.StringAttribute/Value eq 'S2MSI1C')";

/** A subscription as CDSE describes it; unknown fields (and any password) are dropped. */
export interface Subscription {
  Id: string;
  Status: string;
  SubscriptionType?: string;
  SubscriptionEvent?: string[];
  FilterParam?: string;
  NotificationEndpoint?: string | null;
  NotificationEpUsername?: string | null;
  SubmissionDate?: string | null;
  LastNotificationDate?: string | null;
}

const SUBSCRIPTION_SCHEMA = v.object({
  Id: v.pipe(v.string(), v.minLength(1)),
  Status: v.string(),
  SubscriptionType: v.optional(v.string()),
  SubscriptionEvent: v.optional(v.array(v.string())),
  FilterParam: v.optional(v.string()),
  NotificationEndpoint: v.optional(v.nullable(v.string())),
  NotificationEpUsername: v.optional(v.nullable(v.string())),
  SubmissionDate: v.optional(v.nullable(v.string())),
  LastNotificationDate: v.optional(v.nullable(v.string())),
});
const LIST_SCHEMA = v.object({ value: v.array(SUBSCRIPTION_SCHEMA) });

export interface SubscriptionsClientOptions {
  /** Catalogue base URL, without a trailing slash. */
  catalogueUrl?: string;
  /** Bearer tokens of the account that owns the subscriptions. */
  tokens: Pick<CdseTokenManager, "getAccessToken">;
  fetch?: typeof fetch;
}

export interface PushSubscriptionInput {
  /** The stack's PushEndpoint output: `https://…/events`. */
  endpoint: string;
  /** The Basic credentials CDSE will present to the endpoint. */
  credentials: Credentials;
  /** OData `$filter` of the products to push; default every Sentinel-2 L1C product. */
  filter?: string;
}

/**
 * The body of CDSE's subscription create request for a running push subscription to "created" events.
 * @throws InvalidInputError naming a bad endpoint or missing credentials.
 */
export function pushSubscriptionRequest(input: PushSubscriptionInput): Record<string, unknown> {
  const { endpoint, credentials } = input;
  const filter = input.filter ?? L1C_FILTER;
  if (!isAcceptableEndpoint(endpoint))
    throw new InvalidInputError("endpoint must be an https URL (http only on loopback)", {
      field: "endpoint",
    });
  if (!credentials?.username || !credentials.password)
    throw new InvalidInputError("the push endpoint needs a username and a password", {
      field: "credentials",
    });
  return {
    StageOrder: true,
    FilterParam: filter,
    Priority: 1,
    NotificationEndpoint: endpoint,
    NotificationEpUsername: credentials.username,
    NotificationEpPassword: credentials.password,
    Status: "running",
    SubscriptionEvent: ["created"],
    // Required by CDSE since 8 July 2025, lower case.
    SubscriptionType: "push",
  };
}

/**
 * Creates the push subscription.
 * @throws InvalidInputError (bad input, or the hub refused the request), HubAuthError, HubThrottledError,
 *   HubUnavailableError, InvalidHubDataError (malformed answer).
 */
export async function createSubscription(
  input: PushSubscriptionInput,
  options: SubscriptionsClientOptions,
): Promise<Subscription> {
  const body = pushSubscriptionRequest(input);
  const answer = await call("POST", "/odata/v1/Subscriptions", options, body);
  return parseAnswer(SUBSCRIPTION_SCHEMA, answer, "created subscription");
}

/**
 * Lists the account's subscriptions.
 * @throws HubAuthError, HubThrottledError, HubUnavailableError, InvalidHubDataError, InvalidInputError.
 */
export async function listSubscriptions(options: SubscriptionsClientOptions): Promise<Subscription[]> {
  const answer = await call("GET", "/odata/v1/Subscriptions", options);
  return parseAnswer(LIST_SCHEMA, answer, "subscription list").value;
}

/**
 * Deletes a subscription.
 * @throws InvalidInputError (malformed id, or no such subscription), HubAuthError, HubThrottledError,
 *   HubUnavailableError.
 */
export async function terminateSubscription(id: string, options: SubscriptionsClientOptions): Promise<void> {
  // The id is spliced into the path: a UUID only.
  if (typeof id !== "string" || !/^[0-9A-Za-z-]{1,64}$/.test(id))
    throw new InvalidInputError(`not a subscription id: ${JSON.stringify(id)}`, { field: "id" });
  await call("DELETE", `/odata/v1/Subscriptions(${id})`, options);
}

async function call(
  method: "GET" | "POST" | "DELETE",
  path: string,
  options: SubscriptionsClientOptions,
  body?: unknown,
): Promise<unknown> {
  const { tokens } = options;
  let { catalogueUrl, fetch: send } = options;
  catalogueUrl ??= CDSE_CATALOGUE_URL;
  send ??= fetch;
  const url = `${hubBaseUrl(catalogueUrl, "catalogueUrl")}${path}`;
  if (tokens === undefined) throw new InvalidInputError("tokens is required", { field: "tokens" });
  const token = await tokens.getAccessToken();
  let response: Response;
  try {
    response = await send(url, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        accept: "application/json",
        ...(body !== undefined && { "content-type": "application/json" }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new HubUnavailableError(`${method} ${url} failed: ${(error as Error).message}`, { url });
  }
  const text = await response.text();
  if (response.ok) {
    if (text === "") return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw new InvalidHubDataError(`${method} ${url} answered HTTP ${response.status} with non-JSON`, {
        url,
      });
    }
  }
  // The hub's own words (FastAPI's detail) tell the operator what to fix; they never hold our secrets.
  // A refusal other than auth, throttling or an outage is about what we asked: the input's to fix.
  throw hubStatusError(response.status, {
    method,
    where: url,
    retryAfter: response.headers.get("retry-after") ?? undefined,
    detail: text.slice(0, 300),
    refusedError: (message) => new InvalidInputError(message),
  });
}

function parseAnswer<const Schema extends v.GenericSchema>(
  schema: Schema,
  answer: unknown,
  what: string,
): v.InferOutput<Schema> {
  const parsed = v.safeParse(schema, answer);
  if (parsed.success) return parsed.output;
  throw new InvalidHubDataError(`${what}: ${describeIssues(parsed.issues)}`);
}

function isAcceptableEndpoint(endpoint: unknown): endpoint is string {
  if (typeof endpoint !== "string" || !URL.canParse(endpoint)) return false;
  const url = new URL(endpoint);
  // CDSE posts from the internet: plain http would expose the Basic credentials; loopback is for tests.
  return (
    url.protocol === "https:" ||
    (url.protocol === "http:" && ["127.0.0.1", "localhost"].includes(url.hostname))
  );
}
