import { readFileSync } from "node:fs";
import type { S3Client } from "@aws-sdk/client-s3";
import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { SFNClient } from "@aws-sdk/client-sfn";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import {
  type Config,
  FUNCTION_CONFIG,
  type FunctionName,
  loadTileAllowList,
  parseConfig,
  type RequiredBy,
  requireConfig,
} from "@hls-s2/core/config";
import type { FilterRules } from "@hls-s2/core/domain";
import { ConfigError } from "@hls-s2/core/errors";
import { buildHub, type Credentials, type Hub, type HubWiring } from "@hls-s2/core/hub";
import { createDocumentClient, GranuleStore, SlotPool } from "@hls-s2/core/store";
import * as v from "valibot";
import { createDynamoDBClient, createS3Client, createSecretsManagerClient, createSfnClient } from "./clients";
import { metricSink, setStageDimensions } from "./metrics";

/**
 * What the local runner and tests replace: the environment a Lambda would get, SDK clients pointed
 * at embedded servers, credentials instead of Secrets Manager, or a whole hub.
 */
export interface RuntimeOverrides {
  env?: Readonly<Record<string, string | undefined>>;
  clients?: {
    dynamo?: DynamoDBDocumentClient;
    s3?: S3Client;
    secrets?: SecretsManagerClient;
    sfn?: SFNClient;
  };
  credentials?: { hub?: Credentials; download?: Credentials; push?: Credentials };
  hub?: Hub;
  /** The hub requests' backoff instead of the defaults (tests of the local run shorten it). */
  hubRetryTuning?: HubWiring["retryTuning"];
}

const SECRET_SCHEMA = v.object({
  username: v.pipe(v.string(), v.minLength(1)),
  password: v.pipe(v.string(), v.minLength(1)),
});

let overrides: RuntimeOverrides = {};
// Built on first use and kept for the container's life: cold start pays once, warm calls reuse.
let config: Config | undefined;
let store: GranuleStore | undefined;
let slots: SlotPool | undefined;
let s3: S3Client | undefined;
let workS3: S3Client | undefined;
let sfn: SFNClient | undefined;
let hub: Promise<Hub> | undefined;
let pushCredentials: Promise<Credentials> | undefined;
let filterRules: Omit<FilterRules, "day"> | undefined;

/** Replaces parts of the runtime (and drops what was built), so handlers run in-process against local servers. */
export function configureRuntime(next: RuntimeOverrides): void {
  resetRuntime();
  overrides = next;
}

/** Forgets overrides and everything built, as a fresh Lambda container would. */
export function resetRuntime(): void {
  overrides = {};
  config = undefined;
  store = undefined;
  slots = undefined;
  s3 = undefined;
  workS3 = undefined;
  sfn = undefined;
  hub = undefined;
  pushCredentials = undefined;
  filterRules = undefined;
}

/**
 * The parsed configuration; with a function's name, typed with the keys that function requires
 * (core's FUNCTION_CONFIG) set. @throws ConfigError naming every bad or missing key.
 */
export function getConfig<const Name extends FunctionName = never>(name?: Name): Config<RequiredBy<Name>> {
  if (config === undefined) {
    // The deployed environment names its function (FUNCTION_NAME), so the parse requires its keys.
    config = parseConfig(overrides.env ?? process.env);
    // Once per container, before any metric: every metric carries its stage and hub kind.
    setStageDimensions(config);
  }
  return requireConfig<RequiredBy<Name>>(config, name === undefined ? [] : FUNCTION_CONFIG[name].requires);
}

export function getStore(): GranuleStore {
  if (store === undefined) {
    const { tableName, leaseSeconds, maxAttempts } = requireConfig(getConfig(), ["TABLE_NAME"]);
    const client = overrides.clients?.dynamo ?? createDocumentClient(createDynamoDBClient());
    store = new GranuleStore(client, { tableName, leaseMs: leaseSeconds * 1000, maxAttempts });
  }
  return store;
}

/** The hub's download quota: one pool per container, so the slot count is read at most once a minute. */
export function getSlots(): SlotPool {
  if (slots === undefined) {
    const { tableName, leaseSeconds, hubDownloadSlots } = requireConfig(getConfig(), ["TABLE_NAME"]);
    const client = overrides.clients?.dynamo ?? createDocumentClient(createDynamoDBClient());
    slots = new SlotPool(client, { tableName, defaultSlots: hubDownloadSlots, leaseMs: leaseSeconds * 1000 });
  }
  return slots;
}

/** The S3 client of the functions, with the checksum settings of clients.ts (Content-MD5 per part only). */
export function getS3(): S3Client {
  // The SDK does not follow S3's cross-region redirect by default (followRegionRedirects: false), so a
  // bucket in another region than the function's needs its region named.
  const region = getConfig().bucketRegion;
  s3 ??= overrides.clients?.s3 ?? createS3Client(region === undefined ? {} : { region });
  return s3;
}

/** The S3 client of the work bucket, which is in the function's own region (getS3 may be the upload bucket's). */
export function getWorkS3(): S3Client {
  workS3 ??= overrides.clients?.s3 ?? (getConfig().bucketRegion === undefined ? getS3() : createS3Client());
  return workS3;
}

/** The Step Functions client of the function that starts pushed-granules runs. */
export function getSfn(): SFNClient {
  sfn ??= overrides.clients?.sfn ?? createSfnClient();
  return sfn;
}

/** The hub of the configured kind, with credentials from Secrets Manager. @throws ConfigError */
export function getHub(): Promise<Hub> {
  hub ??= connectHub().catch((error: unknown) => {
    // A failed cold start (secret not yet filled in) must not poison the warm container.
    hub = undefined;
    throw error;
  });
  return hub;
}

/** The search's filters (tiles, platforms, acquisition age) for a granule that did not come from a search. */
export function getFilterRules(): Omit<FilterRules, "day"> {
  if (filterRules === undefined) {
    const cfg = getConfig();
    const tiles =
      cfg.tileAllowList ??
      (cfg.tileAllowListFile === undefined
        ? undefined
        : loadTileAllowList(readFileSync(cfg.tileAllowListFile, "utf8")));
    filterRules = { tiles, platforms: cfg.platforms, maxAcquisitionAgeDays: cfg.maxAcquisitionAgeDays };
  }
  return filterRules;
}

/**
 * The Basic credentials CDSE presents to the push endpoint, from the secret named by PUSH_SECRET_ID
 * (only the push function has it); read once per container.
 * @throws ConfigError when the variable is missing or the secret is malformed.
 */
export function getPushCredentials(): Promise<Credentials> {
  const given = overrides.credentials?.push;
  if (given !== undefined) return Promise.resolve(given);
  pushCredentials ??= readPushSecret().catch((error: unknown) => {
    // A secret not yet filled in must not poison the warm container.
    pushCredentials = undefined;
    throw error;
  });
  return pushCredentials;
}

async function readPushSecret(): Promise<Credentials> {
  return readSecret("PUSH_SECRET_ID", getConfig().pushSecretId);
}

async function connectHub(): Promise<Hub> {
  if (overrides.hub !== undefined) return overrides.hub;
  const cfg = getConfig();
  const credentials = overrides.credentials?.hub ?? (await readSecret("HUB_SECRET_ID", cfg.hubSecretId));
  // The download hub's own account is read only when there is a download hub and it has a secret.
  const downloadCredentials =
    cfg.downloadHubUrl === undefined
      ? undefined
      : (overrides.credentials?.download ??
        (cfg.downloadHubSecretId === undefined
          ? undefined
          : await readSecret("DOWNLOAD_HUB_SECRET_ID", cfg.downloadHubSecretId)));
  return buildHub(requireConfig(cfg, ["HUB_URL"]), {
    credentials,
    ...(downloadCredentials !== undefined && { downloadCredentials }),
    filterRules: getFilterRules(),
    metrics: metricSink,
    ...(overrides.hubRetryTuning !== undefined && { retryTuning: overrides.hubRetryTuning }),
  });
}

async function readSecret(key: string, secretId: string | undefined): Promise<Credentials> {
  if (secretId === undefined)
    throw new ConfigError([{ key, message: "is required to read hub credentials" }]);
  const secrets = overrides.clients?.secrets ?? createSecretsManagerClient();
  const answer = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
  let value: unknown;
  try {
    value = JSON.parse(answer.SecretString ?? "");
  } catch {
    value = undefined;
  }
  const parsed = v.safeParse(SECRET_SCHEMA, value);
  // Never echo the secret's content: only say which secret is malformed.
  if (!parsed.success) {
    throw new ConfigError([{ key, message: `secret ${secretId} is not {"username","password"} JSON` }]);
  }
  return parsed.output;
}
