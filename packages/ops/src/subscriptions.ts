import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  CDSE_TOKEN_URL,
  CdseTokenManager,
  type Credentials,
  DownloaderError,
  HubAuthError,
  HubThrottledError,
  HubUnavailableError,
  InvalidHubDataError,
  InvalidInputError,
} from "@hls-s2/core";
import * as v from "valibot";

/** The CDSE OData catalogue, which also serves the subscriptions API. */
export const CDSE_CATALOGUE_URL = "https://catalogue.dataspace.copernicus.eu";

/** Every Sentinel-2 Level-1C product: the downloader's own filters (tiles, platforms, age) apply on receipt. */
export const L1C_FILTER =
  "Collection/Name eq 'SENTINEL-2' and Attributes/OData.CSC.StringAttribute/any(att:att/Name eq 'productType' and att/OData.CSC.StringAttribute/Value eq 'S2MSI1C')";

/** Exit codes, as the operator CLI's: 0 done, 1 the hub refused or failed, 2 bad command line, 3 environment. */
export const SUBSCRIPTIONS_EXIT = { ok: 0, failed: 1, usage: 2, environment: 3 } as const;

export const SUBSCRIPTIONS_USAGE = `Usage: npm run subscriptions -- <command> [options]

Commands:
  create --endpoint URL [--filter ODATA]   create the CDSE push subscription to the stack's PushEndpoint
  list                                     the account's subscriptions
  terminate --id ID                        delete a subscription

Options:
  --hub-url URL     catalogue base (default ${CDSE_CATALOGUE_URL})
  --token-url URL   Keycloak token endpoint (default CDSE's; with --hub-url, that host's
                    /auth/realms/CDSE/protocol/openid-connect/token, as the mock hub serves it)
  --json            machine-readable output
  -h, --help        this text

Environment (never printed):
  CDSE_USERNAME, CDSE_PASSWORD   the CDSE account that owns the subscription
  PUSH_USERNAME, PUSH_PASSWORD   for create: the push endpoint's Basic credentials (the stack's PushCredentials secret)`;

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
  if (!URL.canParse(catalogueUrl))
    throw new InvalidInputError("catalogueUrl must be an absolute URL", { field: "catalogueUrl" });
  if (tokens === undefined) throw new InvalidInputError("tokens is required", { field: "tokens" });
  const url = `${catalogueUrl.replace(/\/+$/, "")}${path}`;
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
  const what = `${method} ${url} answered HTTP ${response.status}: ${text.slice(0, 300)}`;
  const status = response.status;
  if (status === 401 || status === 403) throw new HubAuthError(what, { status, url });
  if (status === 429) throw new HubThrottledError(what, { url });
  if (status >= 500) throw new HubUnavailableError(what, { status, url });
  throw new InvalidInputError(what);
}

function parseAnswer<const Schema extends v.GenericSchema>(
  schema: Schema,
  answer: unknown,
  what: string,
): v.InferOutput<Schema> {
  const parsed = v.safeParse(schema, answer);
  if (parsed.success) return parsed.output;
  const issue = parsed.issues[0];
  throw new InvalidHubDataError(`${what}: ${v.getDotPath(issue) ?? "(root)"} ${issue.message}`);
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

export interface SubscriptionsIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Builds the token manager; tests keep the default. */
  tokens?: (tokenUrl: string, credentials: Credentials) => Pick<CdseTokenManager, "getAccessToken">;
}

/** Runs `npm run subscriptions -- …` and returns its exit code; credentials come from `env` and are never printed. */
export async function runSubscriptionsCli(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: SubscriptionsIo,
): Promise<number> {
  let parsed: CommandLine;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${SUBSCRIPTIONS_USAGE}`);
    return SUBSCRIPTIONS_EXIT.usage;
  }
  if (parsed.help) {
    io.out(SUBSCRIPTIONS_USAGE);
    return SUBSCRIPTIONS_EXIT.ok;
  }
  const account = credentialsFrom(env, "CDSE");
  const push = parsed.command === "create" ? credentialsFrom(env, "PUSH") : undefined;
  const missing = [...account.missing, ...(push?.missing ?? [])];
  if (missing.length > 0) {
    io.err(`set ${missing.join(", ")} in the environment`);
    return SUBSCRIPTIONS_EXIT.environment;
  }
  const catalogueUrl = parsed.hubUrl ?? CDSE_CATALOGUE_URL;
  const tokenUrl =
    parsed.tokenUrl ??
    (parsed.hubUrl === undefined
      ? CDSE_TOKEN_URL
      : `${parsed.hubUrl.replace(/\/+$/, "")}/auth/realms/CDSE/protocol/openid-connect/token`);
  const makeTokens =
    io.tokens ?? ((url, credentials) => new CdseTokenManager({ tokenUrl: url, credentials }));
  const options = { catalogueUrl, tokens: makeTokens(tokenUrl, account.credentials!) };
  try {
    if (parsed.command === "create") {
      const created = await createSubscription(
        {
          endpoint: parsed.endpoint!,
          credentials: push!.credentials!,
          ...(parsed.filter && { filter: parsed.filter }),
        },
        options,
      );
      io.out(parsed.json ? JSON.stringify(created) : `created ${describe(created)}`);
    } else if (parsed.command === "list") {
      const subscriptions = await listSubscriptions(options);
      if (parsed.json) io.out(JSON.stringify(subscriptions));
      else if (subscriptions.length === 0) io.out("no subscriptions");
      else for (const subscription of subscriptions) io.out(describe(subscription));
    } else {
      await terminateSubscription(parsed.id!, options);
      io.out(parsed.json ? JSON.stringify({ terminated: parsed.id }) : `terminated ${parsed.id}`);
    }
    return SUBSCRIPTIONS_EXIT.ok;
  } catch (error) {
    if (!(error instanceof DownloaderError)) throw error;
    io.err(`${error.name}: ${error.message}`);
    return error instanceof InvalidInputError && error.field !== undefined
      ? SUBSCRIPTIONS_EXIT.usage
      : SUBSCRIPTIONS_EXIT.failed;
  }
}

function describe(subscription: Subscription): string {
  return [
    subscription.Id,
    subscription.Status,
    subscription.SubscriptionType ?? "?",
    subscription.NotificationEndpoint ?? "-",
    `last notification ${subscription.LastNotificationDate ?? "never"}`,
  ].join("  ");
}

function credentialsFrom(
  env: Readonly<Record<string, string | undefined>>,
  prefix: "CDSE" | "PUSH",
): { credentials?: Credentials; missing: string[] } {
  const username = env[`${prefix}_USERNAME`]?.trim() ?? "";
  const password = env[`${prefix}_PASSWORD`] ?? "";
  const missing = [
    ...(username === "" ? [`${prefix}_USERNAME`] : []),
    ...(password === "" ? [`${prefix}_PASSWORD`] : []),
  ];
  return missing.length > 0 ? { missing } : { credentials: { username, password }, missing };
}

const COMMANDS = ["create", "list", "terminate"] as const;

interface CommandLine {
  help: boolean;
  command?: (typeof COMMANDS)[number];
  json?: boolean;
  endpoint?: string;
  filter?: string;
  id?: string;
  hubUrl?: string;
  tokenUrl?: string;
}

function parseCommandLine(argv: readonly string[]): CommandLine {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      endpoint: { type: "string" },
      filter: { type: "string" },
      id: { type: "string" },
      "hub-url": { type: "string" },
      "token-url": { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const help = values.help === true;
  const [command, ...extra] = positionals;
  if (help) return { help };
  if (command === undefined || !(COMMANDS as readonly string[]).includes(command))
    throw new InvalidInputError(`name a command: ${COMMANDS.join(", ")}`, { field: "command" });
  if (extra.length > 0) throw new InvalidInputError(`unexpected argument ${extra[0]}`, { field: "command" });
  if (command === "create" && values.endpoint === undefined)
    throw new InvalidInputError("create needs --endpoint URL", { field: "endpoint" });
  if (command === "terminate" && values.id === undefined)
    throw new InvalidInputError("terminate needs --id ID", { field: "id" });
  for (const flag of ["hub-url", "token-url"] as const) {
    const value = values[flag];
    if (value !== undefined && !(URL.canParse(value) && /^https?:$/.test(new URL(value).protocol)))
      throw new InvalidInputError(`--${flag} must be an http(s) URL`, { field: flag });
  }
  return {
    help,
    command: command as (typeof COMMANDS)[number],
    json: values.json === true,
    endpoint: values.endpoint,
    filter: values.filter,
    id: values.id,
    hubUrl: values["hub-url"],
    tokenUrl: values["token-url"],
  };
}

// Run as a script (npm run subscriptions), not when imported by tests.
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runSubscriptionsCli(process.argv.slice(2), process.env, {
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
      process.exitCode = SUBSCRIPTIONS_EXIT.failed;
    },
  );
}
