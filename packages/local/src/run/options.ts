import { isValidDay, PLATFORMS, type Platform, yesterdayOf } from "@hls-s2/core/domain";
import { InvalidInputError } from "@hls-s2/core/errors";
import type { Credentials } from "@hls-s2/core/hub";
import { MAX_HUB_DOWNLOAD_SLOTS } from "@hls-s2/core/store";
import { type Catalogue, FAULT_PROFILES, type FaultPlan, type MockHub } from "@hls-s2/mock-hub";
import type { AwsCallListener, EmbeddedStoresInput } from "../aws";
import { checkLambdaOptions, type LocalLambdaOptions } from "../aws";
import type { ProgressSnapshot } from "./progress";

export type FaultProfileName = keyof typeof FAULT_PROFILES;
export const FAULT_PROFILE_NAMES = Object.keys(FAULT_PROFILES) as FaultProfileName[];

export const DEFAULT_GRANULES_PER_DAY = 30;
export const DEFAULT_PRODUCT_SIZE = { min: 2 * 1024 * 1024, max: 8 * 1024 * 1024 };
export const DEFAULT_SEED = "hls-s2-local";
export const DEFAULT_CONCURRENCY = 15;
/**
 * Multipart part size of local runs: S3's 5 MiB minimum rather than the Lambda's 16, because a killed
 * run re-fetches the bytes of every part not yet uploaded, and the local products are only 2–8 MiB.
 */
export const LOCAL_PART_SIZE_MIB = 5;
/** The mock hub's account; a local secret, never a real one. */
export const MOCK_CREDENTIALS: Credentials = { username: "local", password: "local" };

export interface ExternalHub {
  kind: "dhus" | "cdse";
  url: string;
  credentials: Credentials;
  /** CDSE only: Keycloak token endpoint; default the mock hub's path under `url`. */
  tokenUrl?: string;
  /** Download host (CDSE's zipper, DHuS's IntHub2); default `url` for CDSE (the mock serves both), none for DHuS. */
  downloadUrl?: string;
}

export type ProductSize = number | { min: number; max: number };

export interface RunLocalOptions {
  /** Where the table, the buckets and the catalogue parameters persist between runs. */
  dataDir: string;
  /** Remove the data folder's table, buckets and catalogue parameters first. */
  clean?: boolean;
  /** Publication window, YYYY-MM-DD; default yesterday (UTC) for both. */
  from?: string;
  to?: string;
  /** Platforms to query; default all three. */
  platforms?: Platform[];
  /** Skip the search (FetchLinks) and only download what the table already holds, like the deployed input. */
  downloadOnly?: boolean;
  /** Mock catalogue: granules per day (all platforms together); default the persisted value, else 30. */
  granulesPerDay?: number;
  /** Mock catalogue: product size in bytes, fixed or a range; default persisted, else 2–8 MiB. */
  productSize?: ProductSize;
  /** Mock catalogue seed; default persisted, else "hls-s2-local". */
  seed?: string | number;
  /** Distributed Map MaxConcurrency; default 15. */
  concurrency?: number;
  /**
   * HUB_DOWNLOAD_SLOTS: the hub quota shared by every execution on this table; default the stage's (15).
   * A count set with `ops slots --local` in the folder's table takes precedence, as in a stage.
   */
  hubSlots?: number;
  /** The built-in mock hub serves at most this many `$value` GETs at once, 429 beyond; default unlimited. */
  mockMaxDownloads?: number;
  /** The built-in mock hub sends each `$value` body at most this fast (bytes/s); default unlimited. */
  mockBandwidthBytesPerSecond?: number;
  /** Mock hub faults: a named profile or an explicit plan; default none. */
  faults?: FaultProfileName | FaultPlan;
  /** Mock hub's hub API family when no external hub is given; default dhus. */
  mockKind?: "dhus" | "cdse";
  /** A real (or separately started) hub instead of the built-in mock. */
  hub?: ExternalHub;
  /** Record every tile instead of only HLS's grid (the stack's allow-list, config/hls-tiles.txt). */
  allTiles?: boolean;
  /** Wait before each Retry, instead of the definition's seconds-long backoff; default 100 ms. */
  retryDelayMs?: number;
  /**
   * First backoff of the handlers' own hub retries (doubled per retry, with jitter), instead of the
   * deployed 500 ms: a test whose hub fails a request many times need not wait out seconds.
   */
  hubRetryDelayMs?: number;
  /** Hands over the built-in mock hub once it listens (tests read its counters after the run). */
  onMockHub?: (hub: MockHub) => void;
  /** Called whenever the run's counters change. */
  onProgress?: (snapshot: ProgressSnapshot) => void;
  /**
   * Every AWS call the deployed app would make: each Task's handler's S3/DynamoDB calls (principal: the
   * Task state) and the state machine's own (Lambda invokes, the Map Run's S3 and Step Functions calls;
   * principal: StateMachine). The IAM tests evaluate them against the synthesized roles.
   */
  onAwsCall?: AwsCallListener;
  /** The run's clock for the default window; default now. */
  now?: Date;
  /** Multipart part size in MiB (PART_SIZE_MIB of the Download function); default 5. */
  partSizeMib?: number;
  /**
   * How invocations end (lambda.ts): each function's timeout where not the synthesized one, and a hook
   * that kills an invocation or holds its answer. A handler outliving its timeout fails its Task with
   * Lambda.Unknown, as in AWS.
   */
  lambda?: LocalLambdaOptions;
  /** Called after each CompleteMultipartUpload stored its object in the embedded S3, before it answers. */
  onUploadCompleted?: (completion: { bucket: string; key: string; uploadId: string }) => void;
  /**
   * Fault injection: something stood in front of an embedded store (e.g. packages/testing's stalling or
   * response-losing proxies) that the handlers' S3 or DynamoDB calls go through; the state machine's
   * own calls (the Map Run's) go direct.
   */
  interpose?: { s3?: Interposer; dynamodb?: Interposer };
  /** The mock hub's catalogue instead of the folder's (the live day's, live/catalogue.ts). */
  mockCatalogue?: Catalogue;
  /** Extra Lambda environment (deploy settings such as SEARCH_PAGE_SIZE), over the synthesized one. */
  lambdaEnv?: Record<string, string>;
  /** The DynamoDB stand-in (embedded.ts); default "auto". Tests not about DynamoDB Local take dynalite. */
  dynamo?: EmbeddedStoresInput["dynamo"];
}

/** Given the embedded store's endpoint, starts what stands in front of it and says where it listens. */
export type Interposer = (endpoint: string) => Promise<{ url: string; close(): Promise<void> }>;

/** One of several executions started together on one data folder by runLocalOverlapping. */
export interface OverlappingExecution {
  /** Skip the search and only download what the table holds (the push/requeue run). */
  downloadOnly?: boolean;
  /** Start this long after the first; default 0. */
  delayMs?: number;
  /** This execution's window (a backfill beside a daily run); default the run's. */
  from?: string;
  to?: string;
  /** Runs after the delay, before the execution starts, with the handlers' runtime set up (e.g. pushes arrive). */
  beforeStart?: () => Promise<void>;
}

/** What a local redrive takes: the folder, which execution, and how to run (the window is the execution's). */
export type RedriveLocalOptions = Pick<
  RunLocalOptions,
  | "dataDir"
  | "concurrency"
  | "faults"
  | "hub"
  | "retryDelayMs"
  | "hubRetryDelayMs"
  | "onMockHub"
  | "onProgress"
  | "onAwsCall"
  | "lambda"
> & {
  /** The execution to redrive; default the newest FAILED one of the folder. */
  executionName?: string;
};

/** The options runLocal checked, with their defaults filled. */
export interface CheckedOptions {
  from: string;
  to: string;
  platforms: Platform[];
  concurrency: number;
  retryDelayMs: number;
}

/**
 * Checks a run's options up front and fills the window, platforms, concurrency and retry delay.
 * @throws InvalidInputError naming the bad option.
 */
export function checkOptions(options: RunLocalOptions): CheckedOptions {
  if (typeof options.dataDir !== "string" || options.dataDir === "") {
    throw new InvalidInputError("dataDir is required", { field: "dataDir" });
  }
  const yesterday = yesterdayOf(options.now ?? new Date());
  const from = options.from ?? options.to ?? yesterday;
  const to = options.to ?? options.from ?? yesterday;
  for (const [field, day] of [
    ["from", from],
    ["to", to],
  ] as const) {
    if (!isValidDay(day))
      throw new InvalidInputError(`${field} must be a real YYYY-MM-DD day, got ${day}`, { field });
  }
  if (from > to) throw new InvalidInputError(`from ${from} is after to ${to}`, { field: "from" });
  const platforms = options.platforms ?? [...PLATFORMS];
  if (platforms.length === 0 || platforms.some((p) => !(PLATFORMS as readonly string[]).includes(p))) {
    throw new InvalidInputError(`platforms must be a non-empty subset of ${PLATFORMS.join(", ")}`, {
      field: "platforms",
    });
  }
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1000) {
    throw new InvalidInputError(`concurrency must be an integer 1–1000, got ${concurrency}`, {
      field: "concurrency",
    });
  }
  if (
    options.hubSlots !== undefined &&
    (!Number.isInteger(options.hubSlots) || options.hubSlots < 1 || options.hubSlots > MAX_HUB_DOWNLOAD_SLOTS)
  ) {
    throw new InvalidInputError(
      `hubSlots must be an integer 1–${MAX_HUB_DOWNLOAD_SLOTS}, got ${options.hubSlots}`,
      {
        field: "hubSlots",
      },
    );
  }
  if (
    options.mockMaxDownloads !== undefined &&
    (!Number.isInteger(options.mockMaxDownloads) || options.mockMaxDownloads < 1)
  ) {
    throw new InvalidInputError(`mockMaxDownloads must be an integer ≥ 1, got ${options.mockMaxDownloads}`, {
      field: "mockMaxDownloads",
    });
  }
  const retryDelayMs = options.retryDelayMs ?? 100;
  if (!Number.isFinite(retryDelayMs) || retryDelayMs < 0) {
    throw new InvalidInputError(`retryDelayMs must be ≥ 0, got ${retryDelayMs}`, { field: "retryDelayMs" });
  }
  if (
    options.granulesPerDay !== undefined &&
    (!Number.isInteger(options.granulesPerDay) || options.granulesPerDay < 0)
  ) {
    throw new InvalidInputError(
      `granulesPerDay must be a non-negative integer, got ${options.granulesPerDay}`,
      {
        field: "granulesPerDay",
      },
    );
  }
  if (typeof options.faults === "string" && !FAULT_PROFILE_NAMES.includes(options.faults)) {
    throw new InvalidInputError(`faults must be one of ${FAULT_PROFILE_NAMES.join(", ")}`, {
      field: "faults",
    });
  }
  checkLambdaOptions(options.lambda);
  if (options.hub !== undefined) {
    if (!URL.canParse(options.hub.url) || !/^https?:$/.test(new URL(options.hub.url).protocol)) {
      throw new InvalidInputError(`hub url must be an http(s) URL, got ${options.hub.url}`, {
        field: "hub.url",
      });
    }
    if (options.hub.credentials.username === "" || options.hub.credentials.password === "") {
      throw new InvalidInputError("hub credentials need a username and a password", {
        field: "hub.credentials",
      });
    }
  }
  return { from, to, platforms, concurrency, retryDelayMs };
}
