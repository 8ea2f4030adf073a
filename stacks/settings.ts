import { existsSync } from "node:fs";
import path from "node:path";
import {
  awsRegionField,
  type CamelFields,
  CONFIG_SCHEMA,
  camelFields,
  flagField,
  httpUrlField,
  integerField,
  parseEnvironment,
  searchPageSizeIssue,
  withDefault,
} from "@hls-s2/core/config";
import { ConfigError, type ConfigIssue } from "@hls-s2/core/errors";
import { CDSE_CATALOGUE_URL, CDSE_TOKEN_URL } from "@hls-s2/core/hub";
import { useProject } from "sst/project.js";
import * as v from "valibot";
import { FUNCTION_SIZES } from "./sizes";

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
  hubUrl: CDSE_CATALOGUE_URL,
  downloadHubUrl: "https://zipper.dataspace.copernicus.eu",
  cdseTokenUrl: CDSE_TOKEN_URL,
} as const;

/** The settings the Lambda functions read as they are: core's entries (documented there and in example.env). */
const PASSED_SETTINGS = v.pick(CONFIG_SCHEMA, [
  "PLATFORMS",
  "LOOKBACK_DAYS",
  "RECONCILIATION_HORIZON_DAYS",
  "UNFINISHED_AGE_ALARM_HOURS",
  "OBJECT_PREFIX",
  "HUB_DOWNLOAD_SLOTS",
  "PART_SIZE_MIB",
  "PART_QUEUE_SIZE",
  "SEARCH_PAGE_SIZE",
  "LEASE_SECONDS",
  "MAX_ATTEMPTS",
  "MAX_ACQUISITION_AGE_DAYS",
  "DOWNLOADS_ENABLED",
  "ZIP_CHECK",
  "VERIFY_WITHOUT_CHECKSUM",
]).entries;

/**
 * The deploy-time settings of a stage, one entry per environment variable read at synth (see example.env):
 * its parser and its default on that stage. StageSettings is its output with camelCase names
 * (`LOOKBACK_DAYS` → `lookbackDays`); a setting the Lambda config also reads takes core's entry, so its
 * range and default are written once.
 */
function settingsSchema(stage: string) {
  const production = stage === PRODUCTION_STAGE;
  return v.object({
    ...PASSED_SETTINGS,
    /** RemovalPolicy.RETAIN for the table and buckets (always on `prod`). */
    RETAIN_DATA: withDefault(flagField, production),
    // Production talks to the hub users can reach today; other stages to their own mock hub.
    HUB_KIND: v.optional(CONFIG_SCHEMA.entries.HUB_KIND, production ? "cdse" : "dhus"),
    /** Search hub; absent means "the stage's mock hub" (non-prod only). */
    HUB_URL: v.optional(httpUrlField, production ? CDSE_DEFAULTS.hubUrl : undefined),
    /** A separate download hub (IntHub2) with its own credentials secret. */
    DOWNLOAD_HUB_URL: v.optional(httpUrlField, production ? CDSE_DEFAULTS.downloadHubUrl : undefined),
    CDSE_TOKEN_URL: v.optional(httpUrlField, production ? CDSE_DEFAULTS.cdseTokenUrl : undefined),
    /**
     * The tile allow-list, relative to the project root (what SST's copyFiles expects), copied next to
     * the fetch and push handlers; absent means every tile ("all" is the explicit opt-out, so it also
     * clears prod's default list). HLS processes only its own grid: production fetches nothing else.
     */
    TILE_ALLOW_LIST_FILE: v.optional(
      v.pipe(
        v.string(),
        v.transform((value) => (value.toLowerCase() === ALL_TILES ? undefined : value)),
      ),
      production ? HLS_TILE_ALLOW_LIST_FILE : undefined,
    ),
    /** Import this existing bucket instead of creating the upload bucket. */
    // S3 bucket naming rules, so a typo fails at synth rather than at the first upload.
    UPLOAD_BUCKET_NAME: v.optional(
      v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be an S3 bucket name")),
    ),
    // The Distributed Map accepts up to 10,000; the hub's session quota is the real ceiling.
    DOWNLOAD_CONCURRENCY: withDefault(integerField(1, 1000), 15),
    TOLERATED_FAILURE_PERCENTAGE: withDefault(integerField(0, 100), 10),
    SCHEDULE_ENABLED: withDefault(flagField, production),
    /**
     * The continuous mode (docs/continuous.md): push on, an incremental poll of yesterday and today every
     * POLL_INTERVAL_MINUTES, the daily run as the reconciliation. Unset: on for prod with HUB_KIND cdse.
     */
    CONTINUOUS_MODE: v.optional(flagField),
    /** How often the continuous mode polls yesterday's and today's publications (minutes). */
    POLL_INTERVAL_MINUTES: withDefault(integerField(1, 60), 5),
    /**
     * CDSE push subscriptions: the push endpoint, and a download-only run within a minute of a push
     * (HUB_KIND cdse only). Unset: CONTINUOUS_MODE's value.
     */
    PUSH_ENABLED: v.optional(flagField),
    ALARM_EMAIL: v.optional(v.pipe(v.string(), v.email("must be an email address"))),
    FAILED_GRANULES_ALARM_THRESHOLD: withDefault(integerField(0, 1_000_000), 50),
    /** The alarm fires when a day's p95 publication → verified-object latency exceeds this (hours). */
    // Up to 30 days: beyond that a granule is past the acquisition-age filter anyway. The daily poll runs
    // at 12:00 UTC for the day before: a granule published at 00:00 waits up to ~36 h by design, so
    // beyond that p95 something is slow or stuck.
    // In the continuous mode a granule waits minutes: unset, the threshold is then 1 h.
    LATENCY_ALARM_HOURS: v.optional(integerField(1, 720)),
    /** With push on, the alarm fires when searches record more granules first than this in an hour (a dead subscription). */
    // 100: a dead subscription leaves every product to the poll, ~300–550 an hour on a 7,000–13,000 day;
    // pushes CDSE drops now and then stay well under it.
    PUSH_MISSED_ALARM_PER_HOUR: withDefault(integerField(1, 1_000_000), 100),
    /** The stage's own mock hub (never on prod). */
    MOCK_HUB_ENABLED: withDefault(flagField, !production),
    /** Region of the imported UPLOAD_BUCKET_NAME when it is not the stage's region (HLS's bucket). */
    UPLOAD_BUCKET_REGION: v.optional(awsRegionField),
    /** KMS key of the imported upload bucket's default encryption (SSE-KMS), if it has one. */
    UPLOAD_BUCKET_KMS_KEY_ARN: v.optional(
      v.pipe(
        v.string(),
        // A key ARN, not an alias: IAM grants on a key match its key ARN only.
        v.regex(
          /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/,
          "must be a KMS key ARN (…:key/<id>)",
        ),
      ),
    ),
    /** Reserved concurrency of the public push function: its ceiling, and what it takes from the account. */
    // Lambda keeps at least 100 of the account's concurrency unreserved, so a reservation needs an account
    // above that. CDSE delivers pushes one product at a time, a few a second at most: 5 absorbs bursts, and
    // a flood of requests is throttled (429) at 5 instead of taking the concurrency the downloads need.
    PUSH_RESERVED_CONCURRENCY: withDefault(integerField(1, 1000), 5),
  });
}

type SettingsFields = CamelFields<v.InferOutput<ReturnType<typeof settingsSchema>>>;

/** LATENCY_ALARM_HOURS when unset: the daily run alone makes a granule published at 00:00 wait ~36 h. */
export const DAILY_LATENCY_ALARM_HOURS = 36;
/** LATENCY_ALARM_HOURS when unset in the continuous mode, where p95 is minutes. */
export const CONTINUOUS_LATENCY_ALARM_HOURS = 1;

/** Deploy-time settings of one stage, read once at synth. */
export type StageSettings = Omit<
  SettingsFields,
  "mockHubEnabled" | "continuousMode" | "pushEnabled" | "latencyAlarmHours"
> & {
  /** CONTINUOUS_MODE, resolved. */
  continuousMode: boolean;
  /** PUSH_ENABLED, resolved. */
  pushEnabled: boolean;
  /** LATENCY_ALARM_HOURS, resolved. */
  latencyAlarmHours: number;
  stage: string;
  /** MOCK_HUB_ENABLED. */
  mockHub: boolean;
  /** MOCK_HUB_* variables (seed, days, granules, size, fault profile) passed to the mock hub function. */
  mockHubEnvironment: Record<string, string>;
};

/**
 * Resolves a stage's settings: the environment over the stage's defaults (blank values count as unset),
 * then explicit overrides.
 * @throws ConfigError naming every invalid variable, or a combination the stage forbids.
 */
export function resolveStageSettings(
  stage: string,
  env: Readonly<Record<string, string | undefined>> = {},
  overrides: Partial<StageSettings> = {},
): StageSettings {
  const result = parseEnvironment(settingsSchema(stage), env);
  if (!result.success) throw new ConfigError(result.issues);
  const { mockHubEnabled, continuousMode, pushEnabled, latencyAlarmHours, ...fields } = camelFields(
    result.output,
  );
  const continuous = continuousMode ?? (stage === PRODUCTION_STAGE && fields.hubKind === "cdse");
  const mockHubEnvironment = Object.fromEntries(
    Object.entries(env).filter(
      (entry): entry is [string, string] =>
        entry[0].startsWith("MOCK_HUB_") && entry[0] !== "MOCK_HUB_ENABLED" && (entry[1] ?? "").trim() !== "",
    ),
  );
  const settings: StageSettings = {
    ...fields,
    continuousMode: continuous,
    pushEnabled: pushEnabled ?? continuous,
    latencyAlarmHours:
      latencyAlarmHours ?? (continuous ? CONTINUOUS_LATENCY_ALARM_HOURS : DAILY_LATENCY_ALARM_HOURS),
    mockHub: mockHubEnabled,
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
  const pageSizeIssue = searchPageSizeIssue(settings.hubKind, settings.searchPageSize);
  if (pageSizeIssue !== undefined) issues.push(pageSizeIssue);
  // Parts buffered (queue + the one filling) must fit the Download function beside the runtime.
  const downloadMemoryMb = FUNCTION_SIZES.Download.memoryMb;
  if (settings.partSizeMib * (settings.partQueueSize + 1) > downloadMemoryMb / 2) {
    issues.push({
      key: "PART_SIZE_MIB",
      message: `× (PART_QUEUE_SIZE + 1) must stay within half the Download function's ${downloadMemoryMb} MB`,
    });
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
