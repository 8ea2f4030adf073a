import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DownloaderError, InvalidInputError } from "@hls-s2/core/errors";
import {
  CDSE_CATALOGUE_URL,
  CDSE_TOKEN_URL,
  CdseTokenManager,
  type Credentials,
  createSubscription,
  hubBaseUrl,
  listSubscriptions,
  type Subscription,
  terminateSubscription,
} from "@hls-s2/core/hub";

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
      : `${hubBaseUrl(parsed.hubUrl, "hub-url")}/auth/realms/CDSE/protocol/openid-connect/token`);
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
  // Checked here, at the boundary, by the rule every hub URL follows: http(s), no credentials.
  for (const flag of ["hub-url", "token-url"] as const) {
    const value = values[flag];
    if (value !== undefined) hubBaseUrl(value, flag);
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
