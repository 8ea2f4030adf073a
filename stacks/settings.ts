import { existsSync } from "node:fs";
import path from "node:path";
import {
  AWS_REGION_PATTERN,
  ConfigError,
  type ConfigIssue,
  DEFAULT_HUB_DOWNLOAD_SLOTS,
  HUB_KINDS,
  MAX_HUB_DOWNLOAD_SLOTS,
  PLATFORMS,
  type Platform,
} from "@hls-s2/core";
import { useProject } from "sst/project.js";
import * as v from "valibot";

/** The one stage that keeps its data when removed and never gets the mock hub. */
export const PRODUCTION_STAGE = "prod";

/** HLS's own tile grid (the reference system's list, 18,952 MGRS tiles): prod's default allow-list. */
export const HLS_TILE_ALLOW_LIST_FILE = "config/hls-tiles.txt";

/** The TILE_ALLOW_LIST_FILE value that turns the allow-list off: every tile of the world. */
export const ALL_TILES = "all";

/**
 * The SST project root (the directory of sst.config.ts): a relative TILE_ALLOW_LIST_FILE is
 * resolved against it, and it is what SST's copyFiles joins `from` to
 * (sst/runtime/handlers.js: `path.join(project.paths.root, entry.from)`).
 * Not derived from import.meta.url: `sst deploy`/`sst dev` bundle sst.config.ts with the stacks into
 * `.sst.config.<time>.mjs` in the current directory (sst/stacks/build.js), where import.meta.url
 * names that bundle, not stacks/. Outside an SST run (tests and the local mode import the
 * TypeScript) no project exists yet, so the root is found as SST's own findRoot does: the nearest
 * directory above process.cwd() that holds sst.config.ts.
 */
export function projectRoot(): string {
  try {
    return useProject().paths.root;
  } catch {
    for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
      if (existsSync(path.join(dir, "sst.config.ts"))) return dir;
      if (path.dirname(dir) === dir) return process.cwd();
    }
  }
}

/** Public CDSE endpoints: the production default, since SciHub closed in 2023. */
export const CDSE_DEFAULTS = {
  hubUrl: "https://catalogue.dataspace.copernicus.eu",
  downloadHubUrl: "https://zipper.dataspace.copernicus.eu",
  cdseTokenUrl: "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token",
} as const;

/** Deploy-time settings of one stage, read once at synth (see example.env for each variable). */
export interface StageSettings {
  stage: string;
  /** RemovalPolicy.RETAIN for the table and buckets (always on `prod`). */
  retainData: boolean;
  hubKind: (typeof HUB_KINDS)[number];
  /** Search hub; absent means "the stage's mock hub" (non-prod only). */
  hubUrl?: string;
  /** A separate download hub (IntHub2) with its own credentials secret. */
  downloadHubUrl?: string;
  cdseTokenUrl?: string;
  platforms: Platform[];
  lookbackDays: number;
  /**
   * The tile allow-list, relative to the project root (what SST's copyFiles expects), copied next to
   * the fetch and push handlers; absent means every tile.
   */
  tileAllowListFile?: string;
  /** Import this existing bucket instead of creating the upload bucket. */
  uploadBucketName?: string;
  objectPrefix: string;
  downloadConcurrency: number;
  /**
   * The hub's concurrent-download quota shared by every execution (HUB_DOWNLOAD_SLOTS, 15 under NASA's
   * agreement, 4 for a CDSE general user); `ops slots` changes it at runtime.
   */
  hubDownloadSlots: number;
  toleratedFailurePercentage: number;
  downloadsEnabled: boolean;
  scheduleEnabled: boolean;
  /** CDSE push subscriptions: the push endpoint and a download-only run within 5 minutes of a push (HUB_KIND cdse only). */
  pushEnabled: boolean;
  alarmEmail?: string;
  failedGranulesAlarmThreshold: number;
  /** The alarm fires when a day's p95 publication → verified-object latency exceeds this (hours). */
  latencyAlarmHours: number;
  mockHub: boolean;
  /** MOCK_HUB_* variables (seed, days, granules, size, fault profile) passed to the mock hub function. */
  mockHubEnvironment: Record<string, string>;
  /** Region of the imported UPLOAD_BUCKET_NAME when it is not the stage's region (HLS's bucket). */
  uploadBucketRegion?: string;
  /** KMS key of the imported upload bucket's default encryption (SSE-KMS), if it has one. */
  uploadBucketKmsKeyArn?: string;
  /** Reserved concurrency of the public push function: its ceiling, and what it takes from the account. */
  pushReservedConcurrency: number;
}

/** Environment variables read at synth time, mapped to the settings they fill. */
export const SETTINGS_ENV_KEYS = {
  RETAIN_DATA: "retainData",
  HUB_KIND: "hubKind",
  HUB_URL: "hubUrl",
  DOWNLOAD_HUB_URL: "downloadHubUrl",
  CDSE_TOKEN_URL: "cdseTokenUrl",
  PLATFORMS: "platforms",
  LOOKBACK_DAYS: "lookbackDays",
  TILE_ALLOW_LIST_FILE: "tileAllowListFile",
  UPLOAD_BUCKET_NAME: "uploadBucketName",
  OBJECT_PREFIX: "objectPrefix",
  DOWNLOAD_CONCURRENCY: "downloadConcurrency",
  HUB_DOWNLOAD_SLOTS: "hubDownloadSlots",
  TOLERATED_FAILURE_PERCENTAGE: "toleratedFailurePercentage",
  DOWNLOADS_ENABLED: "downloadsEnabled",
  SCHEDULE_ENABLED: "scheduleEnabled",
  PUSH_ENABLED: "pushEnabled",
  ALARM_EMAIL: "alarmEmail",
  FAILED_GRANULES_ALARM_THRESHOLD: "failedGranulesAlarmThreshold",
  LATENCY_ALARM_HOURS: "latencyAlarmHours",
  MOCK_HUB_ENABLED: "mockHub",
  UPLOAD_BUCKET_REGION: "uploadBucketRegion",
  UPLOAD_BUCKET_KMS_KEY_ARN: "uploadBucketKmsKeyArn",
  PUSH_RESERVED_CONCURRENCY: "pushReservedConcurrency",
} as const satisfies Record<string, keyof StageSettings>;

type SettingsEnvKey = keyof typeof SETTINGS_ENV_KEYS;

const flag = v.pipe(
  v.string(),
  v.transform((value) => value.toLowerCase()),
  v.picklist(["true", "false", "1", "0"], "must be true, false, 1 or 0"),
  v.transform((value) => value === "true" || value === "1"),
);

function integer(min: number, max: number) {
  return v.pipe(
    v.string(),
    v.regex(/^\d+$/, "must be a whole number"),
    v.transform(Number),
    v.minValue(min, `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  );
}

const url = v.pipe(
  v.string(),
  v.check(
    (value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol),
    "must be an http(s) URL",
  ),
  v.transform((value) => value.replace(/\/+$/, "")),
);

const ENV_SCHEMA = v.partial(
  v.object({
    RETAIN_DATA: flag,
    HUB_KIND: v.picklist(HUB_KINDS, `must be one of ${HUB_KINDS.join(", ")}`),
    HUB_URL: url,
    DOWNLOAD_HUB_URL: url,
    CDSE_TOKEN_URL: url,
    PLATFORMS: v.pipe(
      v.string(),
      v.transform((value) => [...new Set(value.split(",").map((item) => item.trim()))].filter(Boolean)),
      v.check((list) => list.length > 0, "must name at least one platform"),
      v.check(
        (list) => list.every((item) => (PLATFORMS as readonly string[]).includes(item)),
        `must be a comma-separated list of ${PLATFORMS.join(", ")}`,
      ),
      v.transform((list) => list as Platform[]),
    ),
    LOOKBACK_DAYS: integer(1, 30),
    TILE_ALLOW_LIST_FILE: v.string(),
    // S3 bucket naming rules, so a typo fails at synth rather than at the first upload.
    UPLOAD_BUCKET_NAME: v.pipe(
      v.string(),
      v.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be an S3 bucket name"),
    ),
    OBJECT_PREFIX: v.string(),
    // The Distributed Map accepts up to 10,000; the hub's session quota is the real ceiling.
    DOWNLOAD_CONCURRENCY: integer(1, 1000),
    // MaxConcurrency holds per Map Run; this holds across every execution (core's SlotPool; ≤ 100).
    HUB_DOWNLOAD_SLOTS: integer(1, MAX_HUB_DOWNLOAD_SLOTS),
    TOLERATED_FAILURE_PERCENTAGE: integer(0, 100),
    DOWNLOADS_ENABLED: flag,
    SCHEDULE_ENABLED: flag,
    PUSH_ENABLED: flag,
    ALARM_EMAIL: v.pipe(v.string(), v.email("must be an email address")),
    FAILED_GRANULES_ALARM_THRESHOLD: integer(0, 1_000_000),
    // Up to 30 days: beyond that a granule is past the acquisition-age filter anyway.
    LATENCY_ALARM_HOURS: integer(1, 720),
    MOCK_HUB_ENABLED: flag,
    UPLOAD_BUCKET_REGION: v.pipe(
      v.string(),
      v.regex(AWS_REGION_PATTERN, "must be an AWS region like us-west-2"),
    ),
    UPLOAD_BUCKET_KMS_KEY_ARN: v.pipe(
      v.string(),
      // A key ARN, not an alias: IAM grants on a key match its key ARN only.
      v.regex(
        /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/,
        "must be a KMS key ARN (…:key/<id>)",
      ),
    ),
    // Lambda keeps at least 100 of the account's concurrency unreserved, so a reservation needs an account above that.
    PUSH_RESERVED_CONCURRENCY: integer(1, 1000),
  }),
);

/** The defaults of a stage before any environment variable or override applies. */
export function stageDefaults(stage: string): StageSettings {
  const production = stage === PRODUCTION_STAGE;
  return {
    stage,
    retainData: production,
    // Production talks to the hub users can reach today; other stages to their own mock hub.
    hubKind: production ? "cdse" : "dhus",
    ...(production && CDSE_DEFAULTS),
    // HLS processes only its own grid: production fetches nothing else unless told TILE_ALLOW_LIST_FILE=all.
    ...(production && { tileAllowListFile: HLS_TILE_ALLOW_LIST_FILE }),
    platforms: [...PLATFORMS],
    lookbackDays: 1,
    objectPrefix: "",
    downloadConcurrency: 15,
    hubDownloadSlots: DEFAULT_HUB_DOWNLOAD_SLOTS,
    toleratedFailurePercentage: 10,
    downloadsEnabled: true,
    scheduleEnabled: production,
    pushEnabled: false,
    failedGranulesAlarmThreshold: 50,
    // The daily poll runs at 12:00 UTC for the day before: a granule published at 00:00 waits up to
    // ~36 h by design, so beyond that p95 something is slow or stuck.
    latencyAlarmHours: 36,
    mockHub: !production,
    mockHubEnvironment: {},
    // CDSE delivers pushes one product at a time, a few a second at most: 5 absorbs bursts, and a flood
    // of requests is throttled (429) at 5 instead of taking the concurrency the downloads need.
    pushReservedConcurrency: 5,
  };
}

/**
 * Resolves a stage's settings: stage defaults, then the environment (blank values count as
 * unset), then explicit overrides.
 * @throws ConfigError naming every invalid variable, or a combination the stage forbids.
 */
export function resolveStageSettings(
  stage: string,
  env: Readonly<Record<string, string | undefined>> = {},
  overrides: Partial<StageSettings> = {},
): StageSettings {
  const input: Partial<Record<SettingsEnvKey, string>> = {};
  for (const key of Object.keys(SETTINGS_ENV_KEYS) as SettingsEnvKey[]) {
    const value = env[key]?.trim();
    if (value !== undefined && value !== "") input[key] = value;
  }
  const result = v.safeParse(ENV_SCHEMA, input, { abortPipeEarly: true });
  if (!result.success) {
    const issues: ConfigIssue[] = [];
    for (const issue of result.issues) {
      const key = String(issue.path?.[0]?.key ?? "environment");
      if (!issues.some((known) => known.key === key)) issues.push({ key, message: issue.message });
    }
    throw new ConfigError(issues);
  }
  const fromEnv: Partial<StageSettings> = {};
  for (const [key, value] of Object.entries(result.output)) {
    if (value !== undefined) Object.assign(fromEnv, { [SETTINGS_ENV_KEYS[key as SettingsEnvKey]]: value });
  }
  // The explicit opt-out: a key present with no value, so it also clears prod's default list.
  if (fromEnv.tileAllowListFile?.toLowerCase() === ALL_TILES) fromEnv.tileAllowListFile = undefined;
  const mockHubEnvironment = Object.fromEntries(
    Object.entries(env).filter(
      (entry): entry is [string, string] =>
        entry[0].startsWith("MOCK_HUB_") && entry[0] !== "MOCK_HUB_ENABLED" && (entry[1] ?? "").trim() !== "",
    ),
  );
  const settings: StageSettings = {
    ...stageDefaults(stage),
    ...fromEnv,
    mockHubEnvironment,
    ...overrides,
    stage,
  };
  assertStageSettings(settings);
  if (settings.tileAllowListFile !== undefined) {
    settings.tileAllowListFile = path.relative(
      projectRoot(),
      path.resolve(projectRoot(), settings.tileAllowListFile),
    );
  }
  return settings;
}

function assertStageSettings(settings: StageSettings): void {
  const issues: ConfigIssue[] = [];
  if (settings.stage === PRODUCTION_STAGE) {
    if (settings.mockHub)
      issues.push({ key: "MOCK_HUB_ENABLED", message: "the mock hub is never deployed on prod" });
    if (!settings.retainData) issues.push({ key: "RETAIN_DATA", message: "prod always retains its data" });
  }
  if (settings.hubUrl === undefined && !settings.mockHub) {
    issues.push({ key: "HUB_URL", message: "is required when the stage has no mock hub" });
  }
  if (settings.hubKind === "cdse" && settings.hubUrl !== undefined && settings.cdseTokenUrl === undefined) {
    issues.push({ key: "CDSE_TOKEN_URL", message: "is required when HUB_KIND is cdse" });
  }
  if (settings.pushEnabled && settings.hubKind !== "cdse") {
    issues.push({ key: "PUSH_ENABLED", message: "push subscriptions need HUB_KIND cdse" });
  }
  if (
    settings.tileAllowListFile !== undefined &&
    !existsSync(path.resolve(projectRoot(), settings.tileAllowListFile))
  ) {
    issues.push({
      key: "TILE_ALLOW_LIST_FILE",
      message: `no file ${settings.tileAllowListFile} under the project root ${projectRoot()} (or "${ALL_TILES}" for every tile)`,
    });
  }
  for (const [key, value] of [
    ["UPLOAD_BUCKET_REGION", settings.uploadBucketRegion],
    ["UPLOAD_BUCKET_KMS_KEY_ARN", settings.uploadBucketKmsKeyArn],
  ] as const) {
    if (value !== undefined && settings.uploadBucketName === undefined) {
      issues.push({ key, message: "applies only to an imported bucket: set UPLOAD_BUCKET_NAME too" });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
}

const SETTINGS_BY_APP = new WeakMap<object, StageSettings>();

/** Fixes the settings the stacks of `app` read (sst.config.ts and synthesizeApp call it first). */
export function provideStageSettings(app: object, settings: StageSettings): void {
  SETTINGS_BY_APP.set(app, settings);
}

/** The settings of `app`; without provideStageSettings, resolved from process.env for its stage. */
export function useStageSettings(app: { stage: string }): StageSettings {
  let settings = SETTINGS_BY_APP.get(app);
  if (settings === undefined) {
    settings = resolveStageSettings(app.stage, process.env);
    SETTINGS_BY_APP.set(app, settings);
  }
  return settings;
}
