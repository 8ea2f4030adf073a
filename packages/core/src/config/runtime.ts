import * as v from "valibot";
import { DEFAULT_HUB_DOWNLOAD_SLOTS, MAX_HUB_DOWNLOAD_SLOTS } from "../adapters/store/slots";
import { ConfigError, type ConfigIssue } from "../domain/errors";
import { normalizeTileId } from "../domain/filters";
import { isPlatform, PLATFORMS, type Platform } from "../domain/granule";

/** The environment variables the downloader reads, in the order an operator would set them. */
export const CONFIG_KEYS = [
  "TABLE_NAME",
  "BUCKET_NAME",
  "WORK_BUCKET_NAME",
  "OBJECT_PREFIX",
  "HUB_KIND",
  "HUB_URL",
  "DOWNLOAD_HUB_URL",
  "HUB_SECRET_ID",
  "DOWNLOAD_HUB_SECRET_ID",
  "CDSE_TOKEN_URL",
  "PLATFORMS",
  "LOOKBACK_DAYS",
  "MAX_ACQUISITION_AGE_DAYS",
  "TILE_ALLOW_LIST",
  "TILE_ALLOW_LIST_FILE",
  "MAX_ATTEMPTS",
  "LEASE_SECONDS",
  "PART_SIZE_MIB",
  "PART_QUEUE_SIZE",
  "DOWNLOADS_ENABLED",
  "SEARCH_PAGE_SIZE",
  "FETCH_TIME_BUDGET_SECONDS",
  "BUCKET_REGION",
  "HUB_MAX_JSON_BYTES",
  "DOWNLOAD_MIN_BYTES_PER_SECOND",
  "DOWNLOAD_FLOOR_WINDOW_SECONDS",
  "HUB_DOWNLOAD_SLOTS",
  "STAGE",
] as const;

export type ConfigKey = (typeof CONFIG_KEYS)[number];

/** An AWS region name (`us-west-2`): the shape both the Lambda config and the deploy settings accept. */
export const AWS_REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d$/;

export const HUB_KINDS = ["dhus", "cdse"] as const;
export type HubKind = (typeof HUB_KINDS)[number];

/** The parsed, typed configuration of every Lambda handler and the local runner. */
export interface Config {
  /** The SST stage (`prod`, `dev`, `local`): the `stage` dimension of every metric. */
  stage: string;
  tableName: string;
  /** The upload bucket the HLS chain reads. */
  bucketName: string;
  /** Manifests and Distributed Map results. */
  workBucketName: string;
  objectPrefix: string;
  hubKind: HubKind;
  /** Base URL of the search (and default download) hub, without a trailing slash. */
  hubUrl: string;
  /** Base URL of a separate download hub (IntHub2), without a trailing slash. */
  downloadHubUrl?: string;
  hubSecretId?: string;
  downloadHubSecretId?: string;
  cdseTokenUrl?: string;
  platforms: Platform[];
  lookbackDays: number;
  maxAcquisitionAgeDays: number;
  /** Normalised tile ids (`32TQM`, no leading T); absent means every tile. */
  tileAllowList?: ReadonlySet<string>;
  /** A file to read with `loadTileAllowList`; never set together with `tileAllowList`. */
  tileAllowListFile?: string;
  maxAttempts: number;
  leaseSeconds: number;
  partSizeMib: number;
  partQueueSize: number;
  downloadsEnabled: boolean;
  /** Entries per search page: SEARCH_PAGE_SIZE, else the hub's largest (DHuS 100, CDSE 1000). */
  searchPageSize: number;
  fetchTimeBudgetSeconds: number;
  /** Region of the upload bucket when it is not the function's own (HLS's bucket in another region). */
  bucketRegion?: string;
  /** Largest JSON answer (search page, checksum, token) read from a hub, in bytes. */
  hubMaxJsonBytes: number;
  /** Throughput floor of a download body, bytes/s; 0 turns it off. */
  downloadMinBytesPerSecond: number;
  /** The floor is judged over windows of this many seconds of waiting on the hub. */
  downloadFloorWindowSeconds: number;
  /** The hub's concurrent-download quota across every execution, until `ops slots` sets one (see slots.ts). */
  hubDownloadSlots: number;
}

/** Search page size by hub when SEARCH_PAGE_SIZE is unset: DHuS caps `rows` at 100, CDSE `$top` at 1000. */
export const DEFAULT_SEARCH_PAGE_SIZE: Readonly<Record<HubKind, number>> = { dhus: 100, cdse: 1000 };

function integer(fallback: number, min: number, max: number) {
  return v.optional(
    v.pipe(
      v.string(),
      v.regex(/^-?\d+$/, "must be an integer"),
      v.transform(Number),
      v.minValue(min, `must be at least ${min}`),
      v.maxValue(max, `must be at most ${max}`),
    ),
    String(fallback),
  );
}

function httpUrl() {
  return v.pipe(
    v.string(),
    v.check(
      (value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol),
      "must be an http(s) URL",
    ),
    // Hub clients append paths to a base URL, so a trailing slash would double up.
    v.transform((value) => value.replace(/\/+$/, "")),
  );
}

function csv(value: string): string[] {
  return value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

const ENV_SCHEMA = v.object({
  TABLE_NAME: v.string(),
  BUCKET_NAME: v.string(),
  WORK_BUCKET_NAME: v.string(),
  OBJECT_PREFIX: v.optional(v.string(), ""),
  HUB_KIND: v.picklist(HUB_KINDS, `must be one of ${HUB_KINDS.join(", ")}`),
  HUB_URL: httpUrl(),
  DOWNLOAD_HUB_URL: v.optional(httpUrl()),
  HUB_SECRET_ID: v.optional(v.string()),
  DOWNLOAD_HUB_SECRET_ID: v.optional(v.string()),
  CDSE_TOKEN_URL: v.optional(httpUrl()),
  PLATFORMS: v.optional(
    v.pipe(
      v.string(),
      v.transform(csv),
      v.check((list) => list.length > 0, "must name at least one platform"),
      v.check(
        (list) => list.every(isPlatform),
        `must be a comma-separated list of Sentinel-2 platforms (${PLATFORMS.join(", ")}, … S2[A-Z])`,
      ),
      v.transform((list) => [...new Set(list)] as Platform[]),
    ),
    PLATFORMS.join(","),
  ),
  LOOKBACK_DAYS: integer(1, 1, 30),
  MAX_ACQUISITION_AGE_DAYS: integer(30, 1, 366),
  TILE_ALLOW_LIST: v.optional(
    v.pipe(
      v.string(),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        const tiles = new Set<string>();
        const bad: string[] = [];
        for (const item of csv(dataset.value)) {
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
  TILE_ALLOW_LIST_FILE: v.optional(v.string()),
  MAX_ATTEMPTS: integer(5, 1, 100),
  LEASE_SECONDS: integer(900, 60, 86_400),
  // S3 refuses parts under 5 MiB (except the last); the cap keeps part × queue inside Lambda memory.
  PART_SIZE_MIB: integer(16, 5, 512),
  PART_QUEUE_SIZE: integer(4, 1, 8),
  DOWNLOADS_ENABLED: v.optional(
    v.pipe(
      v.string(),
      v.transform((value) => value.toLowerCase()),
      v.picklist(["true", "false", "1", "0"], "must be true, false, 1 or 0"),
      v.transform((value) => value === "true" || value === "1"),
    ),
    "true",
  ),
  SEARCH_PAGE_SIZE: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^-?\d+$/, "must be an integer"),
      v.transform(Number),
      v.minValue(1, "must be at least 1"),
      v.maxValue(1000, "must be at most 1000"),
    ),
  ),
  FETCH_TIME_BUDGET_SECONDS: integer(600, 10, 900),
  BUCKET_REGION: v.optional(v.pipe(v.string(), v.regex(AWS_REGION_PATTERN, "must be an AWS region"))),
  // 8 MiB: a 1,000-entry CDSE page is ~2.5 MB; FetchPage has 512 MB. At least 64 KiB, at most 256 MiB.
  HUB_MAX_JSON_BYTES: integer(8 * 1024 * 1024, 65_536, 256 * 1024 * 1024),
  // 64 KiB/s over 60 s: a healthy hub connection gives ~20 MB/s; a trickle holds a Lambda for nothing.
  DOWNLOAD_MIN_BYTES_PER_SECOND: integer(65_536, 0, 1024 * 1024 * 1024),
  DOWNLOAD_FLOOR_WINDOW_SECONDS: integer(60, 1, 600),
  // 15: NASA's agreement; 4 for a CDSE general user. At most 100: one BatchGetItem reads every slot.
  HUB_DOWNLOAD_SLOTS: integer(DEFAULT_HUB_DOWNLOAD_SLOTS, 1, MAX_HUB_DOWNLOAD_SLOTS),
  // Every stage's metrics share one namespace; this dimension keeps dev's failures out of prod's alarms.
  STAGE: v.optional(
    v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9-]*$/, "must be an SST stage name")),
    "local",
  ),
});

/**
 * Parses the environment (passed in, never read from `process.env`) into a typed Config.
 * Blank values count as unset, so a stage can clear an optional setting with "".
 * @throws ConfigError naming every missing or invalid key at once.
 */
export function parseConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const input: Partial<Record<ConfigKey, string>> = {};
  for (const key of CONFIG_KEYS) {
    const value = env[key]?.trim();
    if (value !== undefined && value !== "") input[key] = value;
  }
  const result = v.safeParse(ENV_SCHEMA, input, { abortPipeEarly: true });
  const issues: ConfigIssue[] = [];
  if (!result.success) {
    for (const issue of result.issues) {
      const key = String(issue.path?.[0]?.key ?? "environment");
      // valibot reports an absent key against the object; say it the way an operator reads it.
      const message = key in input ? issue.message : "is required";
      // One message per key: the first problem is the one to fix.
      if (!issues.some((known) => known.key === key)) issues.push({ key, message });
    }
  }
  if (input.TILE_ALLOW_LIST !== undefined && input.TILE_ALLOW_LIST_FILE !== undefined) {
    issues.push({
      key: "TILE_ALLOW_LIST_FILE",
      message: "set either TILE_ALLOW_LIST or TILE_ALLOW_LIST_FILE",
    });
  }
  if (
    result.success &&
    result.output.HUB_KIND === "dhus" &&
    result.output.SEARCH_PAGE_SIZE !== undefined &&
    result.output.SEARCH_PAGE_SIZE > DEFAULT_SEARCH_PAGE_SIZE.dhus
  ) {
    issues.push({
      key: "SEARCH_PAGE_SIZE",
      message: "must be at most 100 with HUB_KIND dhus (DHuS caps rows)",
    });
  }
  if (!result.success || issues.length > 0) throw new ConfigError(issues);
  const parsed = result.output;
  return {
    stage: parsed.STAGE,
    tableName: parsed.TABLE_NAME,
    bucketName: parsed.BUCKET_NAME,
    workBucketName: parsed.WORK_BUCKET_NAME,
    objectPrefix: parsed.OBJECT_PREFIX,
    hubKind: parsed.HUB_KIND,
    hubUrl: parsed.HUB_URL,
    ...(parsed.DOWNLOAD_HUB_URL !== undefined && { downloadHubUrl: parsed.DOWNLOAD_HUB_URL }),
    ...(parsed.HUB_SECRET_ID !== undefined && { hubSecretId: parsed.HUB_SECRET_ID }),
    ...(parsed.DOWNLOAD_HUB_SECRET_ID !== undefined && {
      downloadHubSecretId: parsed.DOWNLOAD_HUB_SECRET_ID,
    }),
    ...(parsed.CDSE_TOKEN_URL !== undefined && { cdseTokenUrl: parsed.CDSE_TOKEN_URL }),
    platforms: parsed.PLATFORMS,
    lookbackDays: parsed.LOOKBACK_DAYS,
    maxAcquisitionAgeDays: parsed.MAX_ACQUISITION_AGE_DAYS,
    ...(parsed.TILE_ALLOW_LIST !== undefined && { tileAllowList: parsed.TILE_ALLOW_LIST }),
    ...(parsed.TILE_ALLOW_LIST_FILE !== undefined && { tileAllowListFile: parsed.TILE_ALLOW_LIST_FILE }),
    maxAttempts: parsed.MAX_ATTEMPTS,
    leaseSeconds: parsed.LEASE_SECONDS,
    partSizeMib: parsed.PART_SIZE_MIB,
    partQueueSize: parsed.PART_QUEUE_SIZE,
    downloadsEnabled: parsed.DOWNLOADS_ENABLED,
    searchPageSize: parsed.SEARCH_PAGE_SIZE ?? DEFAULT_SEARCH_PAGE_SIZE[parsed.HUB_KIND],
    fetchTimeBudgetSeconds: parsed.FETCH_TIME_BUDGET_SECONDS,
    ...(parsed.BUCKET_REGION !== undefined && { bucketRegion: parsed.BUCKET_REGION }),
    hubMaxJsonBytes: parsed.HUB_MAX_JSON_BYTES,
    downloadMinBytesPerSecond: parsed.DOWNLOAD_MIN_BYTES_PER_SECOND,
    downloadFloorWindowSeconds: parsed.DOWNLOAD_FLOOR_WINDOW_SECONDS,
    hubDownloadSlots: parsed.HUB_DOWNLOAD_SLOTS,
  };
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
