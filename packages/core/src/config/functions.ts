import type { ConfigKey } from "./runtime";

/** The downloader's Lambda functions: the workflow's tasks, the two push functions, the age report. */
export const FUNCTION_NAMES = [
  "GenerateQueries",
  "FetchPage",
  "WriteManifest",
  "Download",
  "Summarize",
  "ReceivePush",
  "StartPushedDownloads",
  "ReportAge",
] as const;

export type FunctionName = (typeof FUNCTION_NAMES)[number];

/** What parseConfig requires when the environment names no function (the local runner, tests, tools). */
export const WORKFLOW_REQUIRED_KEYS = ["TABLE_NAME", "BUCKET_NAME", "WORK_BUCKET_NAME", "HUB_URL"] as const;

// What every workflow function is given: the stage, the table its store leases and counts in, both
// buckets, and the hub with its secret id. Wider than each one reads: test/stacks/workflow.test.ts pins
// the hub and its secret id on all five, and the local runner and test/iam read the buckets' deployed
// names from the functions' environments. What each cannot start without is its `requires`; a hub's
// secret ids are checked where they are read (a local run passes credentials instead).
const WORKFLOW_KEYS = [
  "STAGE",
  "HUB_KIND",
  "LEASE_SECONDS",
  "MAX_ATTEMPTS",
  ...WORKFLOW_REQUIRED_KEYS,
  "HUB_SECRET_ID",
] as const;
// What the age safety net reads: the days (twice the horizon) and the alarm's threshold.
const AGE_KEYS = ["RECONCILIATION_HORIZON_DAYS", "UNFINISHED_AGE_ALARM_HOURS"] as const;
// What building a hub reads besides HUB_KIND and HUB_URL: the platforms are the hub's search filter.
const HUB_KEYS = ["DOWNLOAD_HUB_URL", "CDSE_TOKEN_URL", "PLATFORMS"] as const;

/**
 * The one list of the configuration each function is given (`keys`, what the stack passes when the stage
 * sets it) and of those it cannot start without (`requires`). The stack builds each environment from it
 * (stacks/environment.ts) and names the function in FUNCTION_NAME; parseConfig then requires that
 * function's keys, so a missing one fails at cold start with its name.
 */
export const FUNCTION_CONFIG = {
  GenerateQueries: {
    keys: [...WORKFLOW_KEYS, "LOOKBACK_DAYS", "PLATFORMS", "DOWNLOADS_ENABLED"],
    // It plans dates from its defaults and settings: it touches no table, bucket or hub.
    requires: [],
  },
  FetchPage: {
    // No DOWNLOAD_HUB_SECRET_ID: a search never downloads, and only Download may read that secret.
    keys: [
      ...WORKFLOW_KEYS,
      ...HUB_KEYS,
      "SEARCH_PAGE_SIZE",
      "FETCH_TIME_BUDGET_SECONDS",
      "TILE_ALLOW_LIST_FILE",
      "MAX_ACQUISITION_AGE_DAYS",
      // With push on, what a search records first is counted as missed by the push (GranulesMissedByPush).
      "PUSH_ENABLED",
    ],
    requires: ["TABLE_NAME", "HUB_URL"],
  },
  // Besides its window, the unfinished granules of the reconciliation horizon.
  WriteManifest: {
    keys: [...WORKFLOW_KEYS, "RECONCILIATION_HORIZON_DAYS"],
    requires: ["TABLE_NAME", "WORK_BUCKET_NAME"],
  },
  Download: {
    // Only the download takes hub slots and talks to the upload bucket (hence its region).
    keys: [
      ...WORKFLOW_KEYS,
      ...HUB_KEYS,
      "OBJECT_PREFIX",
      "HUB_DOWNLOAD_SLOTS",
      "PART_SIZE_MIB",
      "PART_QUEUE_SIZE",
      "ZIP_CHECK",
      "VERIFY_WITHOUT_CHECKSUM",
      "DOWNLOAD_HUB_SECRET_ID",
      "BUCKET_REGION",
      "UPLOAD_BUCKET_LISTABLE",
    ],
    requires: ["TABLE_NAME", "BUCKET_NAME", "HUB_URL"],
  },
  // It sweeps abandoned uploads in the upload bucket (hence its region), then counts the window in the
  // table, and the unfinished granules of recent days by age; it writes the closed days' delivery
  // manifests to the work bucket.
  Summarize: {
    keys: [...WORKFLOW_KEYS, ...AGE_KEYS, "BUCKET_REGION"],
    requires: ["TABLE_NAME", "BUCKET_NAME", "WORK_BUCKET_NAME"],
  },
  // A conditional put and its counter, filtered as a search would be: no bucket, no hub.
  ReceivePush: {
    keys: [
      "STAGE",
      "HUB_KIND",
      "PLATFORMS",
      "TABLE_NAME",
      "PUSH_SECRET_ID",
      "TILE_ALLOW_LIST_FILE",
      "MAX_ACQUISITION_AGE_DAYS",
    ],
    requires: ["TABLE_NAME", "PUSH_SECRET_ID"],
  },
  // The download-only window is LOOKBACK_DAYS before today, and today (core planWindow).
  StartPushedDownloads: {
    keys: ["STAGE", "HUB_KIND", "LOOKBACK_DAYS", "TABLE_NAME", "STATE_MACHINE_ARN"],
    requires: ["TABLE_NAME", "STATE_MACHINE_ARN"],
  },
  // Every 15 minutes, the unfinished granules of recent days by age: the table, nothing else.
  ReportAge: {
    keys: ["STAGE", "HUB_KIND", "TABLE_NAME", ...AGE_KEYS],
    requires: ["TABLE_NAME"],
  },
} as const satisfies Record<FunctionName, { keys: readonly ConfigKey[]; requires: readonly ConfigKey[] }>;

/** The configuration keys a function is given. */
export type FunctionConfigKey<Name extends FunctionName> = (typeof FUNCTION_CONFIG)[Name]["keys"][number];
