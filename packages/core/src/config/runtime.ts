import * as v from "valibot";
import { DEFAULT_HUB_DOWNLOAD_SLOTS, MAX_HUB_DOWNLOAD_SLOTS } from "../adapters/store/slots";
import { ConfigError, type ConfigIssue } from "../domain/errors";
import { normalizeTileId } from "../domain/filters";
import { PLATFORMS } from "../domain/granule";
import {
  awsRegionField,
  type CamelFields,
  camelCase,
  camelFields,
  flagField,
  httpUrlField,
  integerField,
  parseEnvironment,
  platformsField,
  splitList,
  withDefault,
} from "./fields";
import { FUNCTION_CONFIG, FUNCTION_NAMES, type FunctionName, WORKFLOW_REQUIRED_KEYS } from "./functions";

export const HUB_KINDS = ["dhus", "cdse"] as const;
export type HubKind = (typeof HUB_KINDS)[number];

/** Search page size by hub when SEARCH_PAGE_SIZE is unset: DHuS caps `rows` at 100, CDSE `$top` at 1000. */
export const DEFAULT_SEARCH_PAGE_SIZE: Readonly<Record<HubKind, number>> = { dhus: 100, cdse: 1000 };

/**
 * Days before today a scheduled (`{}`) run covers when LOOKBACK_DAYS is unset: the daily run searches
 * them again, as the reference system did, because products become searchable late and pushes arrive
 * for older days (a finished query costs one page to re-check).
 */
export const DEFAULT_LOOKBACK_DAYS = 5;

/**
 * Recent days whose unfinished granules every run's manifest takes besides its own window, when
 * RECONCILIATION_HORIZON_DAYS is unset: no granule's fate depends on the one execution that listed it.
 */
export const DEFAULT_RECONCILIATION_HORIZON_DAYS = 7;

/** Unfinished granules published longer ago than this (hours) raise the age alarm, when UNFINISHED_AGE_ALARM_HOURS is unset. */
// The daily run at 12:00 UTC covers the day before: a granule published at 00:00 waits ~36 h by design.
export const DEFAULT_UNFINISHED_AGE_ALARM_HOURS = 48;

/**
 * The environment of every Lambda handler and the local runner, one entry per variable: its parser,
 * range and default. The typed Config is its output with camelCase names (`BUCKET_NAME` → `bucketName`).
 * Which keys a function must have is FUNCTION_CONFIG's `requires` (parseConfig checks them), not the schema's.
 */
export const CONFIG_SCHEMA = v.object({
  /** The function this environment is for (FUNCTION_CONFIG), so parseConfig requires exactly its keys. */
  FUNCTION_NAME: v.optional(v.picklist(FUNCTION_NAMES, `must be one of ${FUNCTION_NAMES.join(", ")}`)),
  TABLE_NAME: v.optional(v.string()),
  /** The upload bucket the HLS chain reads. */
  BUCKET_NAME: v.optional(v.string()),
  /** Manifests and Distributed Map results. */
  WORK_BUCKET_NAME: v.optional(v.string()),
  OBJECT_PREFIX: v.optional(v.string(), ""),
  HUB_KIND: v.picklist(HUB_KINDS, `must be one of ${HUB_KINDS.join(", ")}`),
  /** Base URL of the search (and default download) hub, without a trailing slash. */
  HUB_URL: v.optional(httpUrlField),
  /** Base URL of a separate download hub (IntHub2), without a trailing slash. */
  DOWNLOAD_HUB_URL: v.optional(httpUrlField),
  HUB_SECRET_ID: v.optional(v.string()),
  DOWNLOAD_HUB_SECRET_ID: v.optional(v.string()),
  CDSE_TOKEN_URL: v.optional(httpUrlField),
  PLATFORMS: v.optional(platformsField, PLATFORMS.join(",")),
  LOOKBACK_DAYS: withDefault(integerField(1, 30), DEFAULT_LOOKBACK_DAYS),
  /** Search results acquired more than this many days before their publication day are filtered out. */
  MAX_ACQUISITION_AGE_DAYS: withDefault(integerField(1, 366), 30),
  RECONCILIATION_HORIZON_DAYS: withDefault(integerField(1, 31), DEFAULT_RECONCILIATION_HORIZON_DAYS),
  UNFINISHED_AGE_ALARM_HOURS: withDefault(integerField(1, 744), DEFAULT_UNFINISHED_AGE_ALARM_HOURS),
  /** Normalised tile ids (`32TQM`, no leading T); absent means every tile. */
  TILE_ALLOW_LIST: v.optional(
    v.pipe(
      v.string(),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        const tiles = new Set<string>();
        const bad: string[] = [];
        for (const item of splitList(dataset.value)) {
          const tile = normalizeTileId(item);
          if (tile === undefined) bad.push(item);
          else tiles.add(tile);
        }
        if (bad.length > 0) {
          addIssue({ message: `not MGRS tile ids: ${bad.slice(0, 5).join(", ")}` });
          return NEVER;
        }
        return tiles as ReadonlySet<string>;
      }),
    ),
  ),
  /** A file to read with `loadTileAllowList`; never set together with `tileAllowList`. */
  TILE_ALLOW_LIST_FILE: v.optional(v.string()),
  /** Attempts of a granule before it stays FAILED. */
  MAX_ATTEMPTS: withDefault(integerField(1, 100), 5),
  /** How long a download's claim and hub slot last unless renewed (seconds). */
  LEASE_SECONDS: withDefault(integerField(60, 86_400), 900),
  /** Multipart part size of each upload (MiB); parts in flight per upload (memory ≈ part × (queue + 1)). */
  // S3 refuses parts under 5 MiB (except the last); the cap keeps part × queue inside Lambda memory.
  // 64 MiB: S3 bills each UploadPart as a PUT, and a 600 MB product takes 9 of them instead of 36 at
  // 16 MiB. A queue of 1 suffices: a part reaches S3 in about a second while the hub fills the next in
  // ~3.4 s at 20 MB/s; with queue 2 a 1 GiB transfer peaked at 325 MiB of the 512 MB (bench/lambda.ts).
  PART_SIZE_MIB: withDefault(integerField(5, 512), 64),
  PART_QUEUE_SIZE: withDefault(integerField(1, 8), 1),
  DOWNLOADS_ENABLED: withDefault(flagField, true),
  /** Check each product's zip (entries' CRC-32, central directory, `<name>.SAFE`) before its object exists. */
  ZIP_CHECK: withDefault(flagField, true),
  /** A product without a hub MD5 is verified by the zip check and the hub's exact length (CDSE), not held back. */
  VERIFY_WITHOUT_CHECKSUM: withDefault(flagField, false),
  /** Entries per search page: SEARCH_PAGE_SIZE, else the hub's largest (DEFAULT_SEARCH_PAGE_SIZE). */
  SEARCH_PAGE_SIZE: v.optional(integerField(1, 1000)),
  FETCH_TIME_BUDGET_SECONDS: withDefault(integerField(10, 900), 600),
  /** Region of the upload bucket when it is not the function's own (HLS's bucket in another region). */
  BUCKET_REGION: v.optional(awsRegionField),
  /**
   * The upload bucket lets the Download role list its multipart uploads (set by the stack for a bucket
   * the stage created; HLS's policy grants no list): an upload an attempt created but never recorded is
   * then found and aborted by the next claim, instead of by the bucket's lifecycle rule a day later.
   */
  UPLOAD_BUCKET_LISTABLE: withDefault(flagField, false),
  /** Largest JSON answer (search page, checksum, token) read from a hub, in bytes. */
  // 8 MiB: a 1,000-entry CDSE page is ~2.5 MB; FetchPage has 512 MB. At least 64 KiB, at most 256 MiB.
  HUB_MAX_JSON_BYTES: withDefault(integerField(65_536, 256 * 1024 * 1024), 8 * 1024 * 1024),
  /** Throughput floor of a download body, bytes/s; 0 turns it off. */
  // 64 KiB/s over 60 s: a healthy hub connection gives ~20 MB/s; a trickle holds a Lambda for nothing.
  DOWNLOAD_MIN_BYTES_PER_SECOND: withDefault(integerField(0, 1024 * 1024 * 1024), 65_536),
  /** The floor is judged over windows of this many seconds of waiting on the hub. */
  DOWNLOAD_FLOOR_WINDOW_SECONDS: withDefault(integerField(1, 600), 60),
  /** The hub's concurrent-download quota across every execution, until `ops slots` sets one (see slots.ts). */
  // 15: NASA's agreement; 4 for a CDSE general user. At most 100: one BatchGetItem reads every slot.
  HUB_DOWNLOAD_SLOTS: withDefault(integerField(1, MAX_HUB_DOWNLOAD_SLOTS), DEFAULT_HUB_DOWNLOAD_SLOTS),
  /** The SST stage (`prod`, `dev`, `local`): the `stage` dimension of every metric. */
  // Every stage's metrics share one namespace; this dimension keeps dev's failures out of prod's alarms.
  STAGE: v.optional(
    v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9-]*$/, "must be an SST stage name")),
    "local",
  ),
  /** Push subscriptions are on for the stage: a granule a search records first is one the push missed (FetchPage). */
  PUSH_ENABLED: withDefault(flagField, false),
  /** The secret of the Basic credentials CDSE presents to the push endpoint (the push function only). */
  PUSH_SECRET_ID: v.optional(v.string()),
  /** The state machine a pushed-granules run is started on (StartPushedDownloads only). */
  STATE_MACHINE_ARN: v.optional(v.string()),
});

/** The environment variables the downloader reads. */
export type ConfigKey = keyof typeof CONFIG_SCHEMA.entries;
export const CONFIG_KEYS = Object.keys(CONFIG_SCHEMA.entries) as ConfigKey[];

/** What `keys` required does to the schema: valibot's own `required` (no key: the schema as it is). */
function requiring(keys: readonly ConfigKey[]) {
  return keys.length === 0 ? CONFIG_SCHEMA : v.required(CONFIG_SCHEMA, keys as [ConfigKey, ...ConfigKey[]]);
}

/**
 * The parsed, typed configuration of every Lambda handler and the local runner, with the keys `Key` set:
 * the schema's output with `Key` required, in camelCase names, the search page size resolved.
 */
export type Config<Key extends ConfigKey = never> = Omit<
  CamelFields<v.InferOutput<v.SchemaWithRequired<typeof CONFIG_SCHEMA, [Key, ...Key[]], undefined>>>,
  "searchPageSize"
> & { searchPageSize: number };

/** The keys a function cannot start without (FUNCTION_CONFIG's `requires`). */
export type RequiredBy<Name extends FunctionName> = (typeof FUNCTION_CONFIG)[Name]["requires"][number];

/**
 * The configuration with `keys` checked present, typed so.
 * @throws ConfigError naming each missing key ("is required").
 */
export function requireConfig<const Key extends ConfigKey>(
  config: Config,
  keys: readonly Key[],
): Config<Key> {
  const missing = keys.filter((key) => (config as Record<string, unknown>)[camelCase(key)] === undefined);
  if (missing.length > 0) throw new ConfigError(missing.map((key) => ({ key, message: "is required" })));
  return config as Config<Key>;
}

/** The page-size rule the schema's range cannot say: DHuS caps `rows` at 100. Deploy settings check it too. */
export function searchPageSizeIssue(
  hubKind: HubKind,
  searchPageSize: number | undefined,
): ConfigIssue | undefined {
  if (hubKind !== "dhus" || searchPageSize === undefined || searchPageSize <= DEFAULT_SEARCH_PAGE_SIZE.dhus) {
    return undefined;
  }
  return { key: "SEARCH_PAGE_SIZE", message: "must be at most 100 with HUB_KIND dhus (DHuS caps rows)" };
}

/**
 * Parses the environment (passed in, never read from `process.env`) into a typed Config.
 * Blank values count as unset, so a stage can clear an optional setting with "".
 * Required are `options.require`, else the keys of the function FUNCTION_NAME names (FUNCTION_CONFIG),
 * else, with no FUNCTION_NAME, what the whole workflow needs (WORKFLOW_REQUIRED_KEYS).
 * @throws ConfigError naming every missing or invalid key at once.
 */
export function parseConfig<const Key extends ConfigKey = never>(
  env: Readonly<Record<string, string | undefined>>,
  options: { require?: readonly Key[] } = {},
): Config<Key> {
  const named = env["FUNCTION_NAME"]?.trim() as FunctionName;
  const required =
    options.require ??
    (FUNCTION_NAMES.includes(named) ? FUNCTION_CONFIG[named].requires : WORKFLOW_REQUIRED_KEYS);
  const result = parseEnvironment(requiring(required), env);
  const issues: ConfigIssue[] = result.success ? [] : result.issues;
  if (result.input["TILE_ALLOW_LIST"] !== undefined && result.input["TILE_ALLOW_LIST_FILE"] !== undefined) {
    issues.push({
      key: "TILE_ALLOW_LIST_FILE",
      message: "set either TILE_ALLOW_LIST or TILE_ALLOW_LIST_FILE",
    });
  }
  const pageSizeIssue = result.success
    ? searchPageSizeIssue(result.output.HUB_KIND, result.output.SEARCH_PAGE_SIZE)
    : undefined;
  if (pageSizeIssue !== undefined) issues.push(pageSizeIssue);
  if (!result.success || issues.length > 0) throw new ConfigError(issues);
  const fields = camelFields(result.output as v.InferOutput<typeof CONFIG_SCHEMA>);
  const config: Config = {
    ...fields,
    searchPageSize: fields.searchPageSize ?? DEFAULT_SEARCH_PAGE_SIZE[fields.hubKind],
  };
  // The schema required `required`, the keys of Key among them.
  return config as Config<Key>;
}

/**
 * Parses the text of a tile allow-list file (one MGRS id per line, `#` starts a comment; a
 * leading "T" is accepted) into normalised tile ids.
 * @throws ConfigError naming TILE_ALLOW_LIST_FILE and the first bad lines.
 */
export function loadTileAllowList(text: string): Set<string> {
  const tiles = new Set<string>();
  const bad: string[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const content = line.replace(/#.*$/, "").trim();
    if (content === "") return;
    const tile = normalizeTileId(content);
    if (tile === undefined) bad.push(`line ${index + 1}: ${JSON.stringify(content.slice(0, 40))}`);
    else tiles.add(tile);
  });
  if (bad.length > 0) {
    throw new ConfigError([
      { key: "TILE_ALLOW_LIST_FILE", message: `not MGRS tile ids: ${bad.slice(0, 5).join(", ")}` },
    ]);
  }
  if (tiles.size === 0) {
    // An empty file would silently mean "every tile": far more likely a broken deploy than intent.
    throw new ConfigError([{ key: "TILE_ALLOW_LIST_FILE", message: "lists no tile ids" }]);
  }
  return tiles;
}
