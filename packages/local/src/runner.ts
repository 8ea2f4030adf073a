import "./polyfills";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import {
  type Credentials,
  type DayLatency,
  type DayTally,
  GranuleStore,
  type GranuleTally,
  InvalidInputError,
  isValidDay,
  latencyByDay,
  MAX_HUB_DOWNLOAD_SLOTS,
  PLATFORMS,
  type Platform,
  StatesError,
  summarizeWindow,
  type WindowSummary,
} from "@hls-s2/core";
import {
  type Catalogue,
  createCatalogue,
  FAULT_PROFILES,
  type FaultPlan,
  MOCK_PLATFORMS,
  type MockHub,
  startMockHub,
} from "@hls-s2/mock-hub";
import { ExecutionError, StateMachine } from "aws-local-stepfunctions";
import { type AwsCallListener, asPrincipal, recordAwsCalls } from "./aws-calls";
import { adaptDefinition, type DistributedMapNote, type LocalDefinition } from "./definition";
import { DYNAMODB_LOCAL_DIR, type DynamoBackend, type EmbeddedStores, startEmbeddedStores } from "./embedded";
import { findRedrivableExecution, type LocalExecutionRecord, saveExecutionRecord } from "./executions";
import { type ReleasedLease, releaseStaleLocalLeases, releaseStaleLocalSlots } from "./leases";
import { lockDataFolder } from "./lock";
import { type EventLog, type FailedState, type MapRunRecord, runMapRun } from "./map-run";
import type { ProgressSnapshot } from "./progress";
import {
  loadSynthesizedWorkflow,
  type SynthesizedWorkflow,
  tileAllowListPath,
  type WorkflowTaskName,
} from "./workflow";

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
const MOCK_CDSE_TOKEN_PATH = "/auth/realms/CDSE/protocol/openid-connect/token";

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
  /** Called after each CompleteMultipartUpload stored its object in the embedded S3, before it answers. */
  onUploadCompleted?: (completion: { bucket: string; key: string; uploadId: string }) => void;
}

/** One of several executions started together on one data folder by runLocalOverlapping. */
export interface OverlappingExecution {
  /** Skip the search and only download what the table holds (the push/requeue run). */
  downloadOnly?: boolean;
  /** Start this long after the first; default 0. */
  delayMs?: number;
}

/** What a local redrive takes: the folder, which execution, and how to run (the window is the execution's). */
export type RedriveLocalOptions = Pick<
  RunLocalOptions,
  "dataDir" | "concurrency" | "faults" | "hub" | "retryDelayMs" | "onMockHub" | "onProgress" | "onAwsCall"
> & {
  /** The execution to redrive; default the newest FAILED one of the folder. */
  executionName?: string;
};

/** Core's tally (one truth with Summarize and `ops status`). */
export type PlatformCounts = GranuleTally;
export type LocalDaySummary = DayTally;

export interface LocalRunSummary {
  executionName: string;
  from: string;
  to: string;
  platforms: Platform[];
  dataDir: string;
  hub: { kind: "dhus" | "cdse"; url: string; mock: boolean };
  /** The DynamoDB stand-in that held the table. */
  store: { dynamo: string; backend: DynamoBackend };
  /** The granule table after the run, per day and platform: the whole window, not only this run. */
  days: LocalDaySummary[];
  totals: PlatformCounts;
  /** Publication → verified-object latency (p50/p95/max) per day of the window, from the table. */
  latency: DayLatency[];
  /** What this run did. */
  run: {
    manifest: number;
    downloaded: number;
    alreadyDownloaded: number;
    leasedElsewhere: number;
    failed: number;
    failures: Record<string, number>;
    retries: number;
    bytes: number;
    wallSeconds: number;
    mbPerSecond: number;
  };
  /** True when the manifest was empty: everything in the window was already downloaded (or failed for good). */
  nothingToDownload: boolean;
  /** Leases a killed earlier run left behind, ended at start so their saved uploads resume now. */
  releasedLeases: ReleasedLease[];
  /** How the execution ended, as Step Functions reports it. */
  status: "SUCCEEDED" | "FAILED";
  /** Why it FAILED: the error and the top-level state it failed in (what a redrive restarts). */
  error?: { name: string; message: string; state: string };
  /** How often this execution was redriven (0 for a first run). */
  redriveCount: number;
  /** The Distributed Map's Map Run, when the execution reached it. */
  mapRun?: {
    stateName: string;
    mapRunArn: string;
    status: MapRunRecord["status"];
    succeeded: number;
    failed: number;
    pending: number;
    resultWriterDetails?: { Bucket: string; Key: string };
  };
  /** The state machine's output (Summarize's return value); absent when the execution FAILED. */
  output?: WindowSummary;
}

/** The catalogue parameters kept in the data folder so a rerun serves the same products. */
export interface CatalogueParams {
  seed: string | number;
  granulesPerDay: number;
  productSize: ProductSize;
}

const PARAMS_FILE = "catalogue.json";
/** The synthesized workflow, reused while the stacks and core are unchanged (see workflow.ts). */
export const SYNTH_CACHE_FILE = "synthesized-workflow.json";

/** The mock catalogue a run with these parameters serves for a window (deterministic). */
export function buildCatalogue(params: CatalogueParams, days: string[]): Catalogue {
  return createCatalogue({
    seed: params.seed,
    days,
    platforms: [...MOCK_PLATFORMS],
    granulesPerDay: params.granulesPerDay,
    sizeBytes: params.productSize,
  });
}

/** Days from `from` to `to` inclusive. */
export function windowDays(from: string, to: string): string[] {
  const days: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days;
}

/** Yesterday (UTC) of a date, YYYY-MM-DD: the default daily window. */
export function yesterdayOf(now: Date): string {
  return new Date(now.getTime() - 86_400_000).toISOString().slice(0, 10);
}

/**
 * Runs the daily workflow on this machine: the state machine the stacks synthesize, executed by
 * aws-local-stepfunctions with every Task bound to its real handler in-process and each Distributed
 * Map run by the local Map Run (map-run.ts), against the mock hub (or an external hub), an embedded
 * DynamoDB and an embedded S3 on 127.0.0.1. The execution's record is kept in the data folder for
 * `redriveLocal`. A Map Run beyond its tolerated failures ends the execution FAILED, as in AWS: the
 * summary says so (status, error, state).
 * @throws InvalidInputError on a bad option; DataFolderInUseError when another live run holds the data
 *   folder (nothing in it is touched); whatever fails the execution elsewhere (e.g. a hub outage
 *   in GenerateQueries or FetchLinks) propagates with its name (the execution is recorded FAILED).
 */
export async function runLocal(options: RunLocalOptions): Promise<LocalRunSummary> {
  const checked = checkOptions(options);
  return inLockedFolder(options.dataDir, async () => (await runInFolder(options, checked))[0]!);
}

/**
 * Runs several executions of the state machine at once on one data folder, sharing its table, buckets
 * and hub, as a stage's daily run, backfills and download-only runs overlap: each its own execution and
 * Map Run (MaxConcurrency each), all under the one hub quota (`hubSlots`). Summaries in the given order.
 * @throws as runLocal.
 */
export async function runLocalOverlapping(
  options: RunLocalOptions,
  executions: OverlappingExecution[],
): Promise<LocalRunSummary[]> {
  const checked = checkOptions(options);
  if (!Array.isArray(executions) || executions.length === 0) {
    throw new InvalidInputError("executions must name at least one execution", { field: "executions" });
  }
  return inLockedFolder(options.dataDir, () => runInFolder(options, checked, undefined, executions));
}

/** Runs `work` holding the data folder's lock: taken before anything in it is wiped, read or written. */
async function inLockedFolder<T>(dataDir: string, work: () => Promise<T>): Promise<T> {
  const lock = await lockDataFolder(dataDir);
  try {
    return await work();
  } finally {
    await lock.release();
  }
}

/**
 * Redrives a FAILED local execution with AWS's semantics: the execution restarts at the state it failed
 * in, with that state's input, under its own name; its Map Run re-runs only the children that did not
 * succeed (each from its failed state) and never the succeeded ones. The mock hub starts again from
 * the catalogue persisted in the folder, without faults unless given.
 * @throws StatesError ExecutionDoesNotExist / ExecutionNotRedrivable; as runLocal otherwise.
 */
export async function redriveLocal(options: RedriveLocalOptions): Promise<LocalRunSummary> {
  if (typeof options.dataDir !== "string" || options.dataDir === "") {
    throw new InvalidInputError("dataDir is required", { field: "dataDir" });
  }
  const dataDir = resolve(options.dataDir);
  return inLockedFolder(dataDir, async () => {
    const record = await findRedrivableExecution(dataDir, options.executionName);
    if (record.failedState === undefined) {
      throw new StatesError(
        "ExecutionNotRedrivable",
        `execution ${record.name} has no failed state to restart`,
      );
    }
    const runOptions: RunLocalOptions = {
      ...options,
      dataDir,
      from: record.window.from,
      to: record.window.to,
      platforms: record.window.platforms,
      downloadOnly: record.window.downloadOnly,
      allTiles: record.window.allTiles === true,
      ...(record.hub.mock && options.hub === undefined && { mockKind: record.hub.kind }),
    };
    return (await runInFolder(runOptions, checkOptions(runOptions), record))[0]!;
  });
}

async function runInFolder(
  options: RunLocalOptions,
  checked: CheckedOptions,
  redriven?: LocalExecutionRecord,
  overlapping: OverlappingExecution[] = [{}],
): Promise<LocalRunSummary[]> {
  const dataDir = resolve(options.dataDir);
  if (options.clean === true && redriven === undefined) await cleanDataDir(dataDir);
  await mkdir(dataDir, { recursive: true });
  const params = await resolveCatalogueParams(dataDir, options);
  const started = Date.now();

  const resources: { close(): Promise<void> }[] = [];
  try {
    let hub: {
      kind: "dhus" | "cdse";
      url: string;
      credentials: Credentials;
      tokenUrl?: string;
      downloadUrl?: string;
      mock?: MockHub;
    };
    if (options.hub === undefined) {
      const mock = await startMockHub({
        catalogue: buildCatalogue(params, windowDays(checked.from, checked.to)),
        port: 0,
        host: "127.0.0.1",
        credentials: MOCK_CREDENTIALS,
        ...(options.mockMaxDownloads !== undefined && { maxDownloads: options.mockMaxDownloads }),
        ...(options.mockBandwidthBytesPerSecond !== undefined && {
          bandwidthBytesPerSecond: options.mockBandwidthBytesPerSecond,
        }),
        faults:
          typeof options.faults === "object" ? options.faults : FAULT_PROFILES[options.faults ?? "none"],
      });
      resources.push(mock);
      options.onMockHub?.(mock);
      const kind = options.mockKind ?? "dhus";
      hub = { kind, url: mock.url, credentials: MOCK_CREDENTIALS, mock };
    } else {
      hub = { ...options.hub };
    }
    if (hub.kind === "cdse") {
      // CDSE splits catalogue, zipper and identity hosts; the mock hub answers all three on one.
      hub.tokenUrl ??= `${hub.url}${MOCK_CDSE_TOKEN_PATH}`;
      hub.downloadUrl ??= hub.url;
    }

    const stores = await startEmbeddedStores({ dataDir, onUploadCompleted: options.onUploadCompleted });
    resources.push(stores);
    // The folder's lock is ours, so any DOWNLOADING lease or hub slot in it belongs to a dead run.
    const releasedLeases = await releaseStaleLocalLeases(stores);
    await releaseStaleLocalSlots(stores);
    const workflow = await loadSynthesizedWorkflow({ cacheFile: join(dataDir, SYNTH_CACHE_FILE) });
    const local = adaptDefinition(workflow.definition, { concurrency: checked.concurrency });
    const env = {
      ...lambdaEnvironment(workflow, stores, hub, { allTiles: options.allTiles === true }),
      PART_SIZE_MIB: String(options.partSizeMib ?? LOCAL_PART_SIZE_MIB),
      ...(options.hubSlots !== undefined && { HUB_DOWNLOAD_SLOTS: String(options.hubSlots) }),
    };
    // One runtime (one "container" per function) for every execution of this folder: they share it as
    // warm Lambdas would, and the quota is in the table they share, not in it.
    // Handlers log and publish metrics through Powertools, which reads process.env when first
    // imported; locally the progress line and the summary replace both unless the user asks.
    process.env["POWERTOOLS_LOG_LEVEL"] ??= "SILENT";
    process.env["POWERTOOLS_METRICS_DISABLED"] ??= "true";
    if (options.onAwsCall !== undefined) {
      recordAwsCalls(stores.s3, "s3", options.onAwsCall);
      recordAwsCalls(stores.dynamo, "dynamodb", options.onAwsCall);
    }
    const runtime = await import("@hls-s2/functions/lib/runtime");
    runtime.configureRuntime({
      env,
      clients: { dynamo: documentClient(stores), s3: stores.s3 },
      credentials: { hub: hub.credentials, download: hub.credentials },
    });
    resources.push({ close: async () => runtime.resetRuntime() });
    // Every progress line says which DynamoDB stand-in holds the table.
    const onProgress = options.onProgress;
    const withStore =
      onProgress &&
      ((snapshot: ProgressSnapshot) => onProgress({ ...snapshot, store: stores.dynamoBackend }));
    const runs = await Promise.all(
      overlapping.map(async (spec, index) => {
        if ((spec.delayMs ?? 0) > 0) await new Promise((resolve) => setTimeout(resolve, spec.delayMs));
        const runOptions = {
          ...options,
          onProgress: withStore,
          ...(spec.downloadOnly !== undefined && { downloadOnly: spec.downloadOnly }),
        };
        const nameSuffix = overlapping.length > 1 ? `-${index + 1}` : "";
        return execute({
          local,
          env,
          stores,
          hub,
          workflow,
          checked,
          options: runOptions,
          dataDir,
          redriven,
          nameSuffix,
        });
      }),
    );
    const summaries: LocalRunSummary[] = [];
    for (const run of runs)
      summaries.push(await summarizeRun(run, { checked, dataDir, hub, stores, started, releasedLeases }));
    return summaries;
  } finally {
    // Stop in reverse order of start; a close failure must not hide the run's own error.
    for (const resource of resources.reverse()) await resource.close().catch(() => undefined);
  }
}

/** The summary of one execution: the table after it, per day and platform, and what it did. */
async function summarizeRun(
  run: RunState,
  context: {
    checked: CheckedOptions;
    dataDir: string;
    hub: { kind: "dhus" | "cdse"; url: string; mock?: MockHub };
    stores: EmbeddedStores;
    started: number;
    releasedLeases: ReleasedLease[];
  },
): Promise<LocalRunSummary> {
  const { checked, dataDir, hub, stores, started, releasedLeases } = context;
  {
    const store = new GranuleStore(documentClient(stores), { tableName: stores.tableName });
    const { days, totals } = await summarizeWindow({ from: checked.from, to: checked.to }, { store });
    const latency = await latencyByDay(windowDays(checked.from, checked.to), { store });
    const wallSeconds = (Date.now() - started) / 1000;
    const downloadSeconds = run.firstDownloadAt === undefined ? 0 : (Date.now() - run.firstDownloadAt) / 1000;
    const mapRun = Object.values(run.record.mapRuns)[0];
    const summary: LocalRunSummary = {
      executionName: run.executionName,
      from: checked.from,
      to: checked.to,
      platforms: checked.platforms,
      dataDir,
      hub: { kind: hub.kind, url: hub.url, mock: hub.mock !== undefined },
      store: { dynamo: stores.dynamoDescription, backend: stores.dynamoBackend },
      days,
      totals,
      latency,
      run: {
        manifest: run.manifest ?? 0,
        downloaded: run.downloaded,
        alreadyDownloaded: run.alreadyDownloaded,
        leasedElsewhere: run.leasedElsewhere,
        failed: run.failed,
        failures: run.failures,
        retries: run.retries,
        bytes: run.bytes,
        wallSeconds,
        mbPerSecond: downloadSeconds > 0 ? run.bytes / 1e6 / downloadSeconds : 0,
      },
      nothingToDownload: (run.manifest ?? 0) === 0,
      releasedLeases,
      status: run.record.status === "SUCCEEDED" ? "SUCCEEDED" : "FAILED",
      redriveCount: run.record.redriveCount,
      ...(run.record.error !== undefined && {
        error: { ...run.record.error, state: run.record.failedState?.name ?? "" },
      }),
      ...(mapRun !== undefined && {
        mapRun: {
          stateName: mapRun.stateName,
          mapRunArn: mapRun.mapRunArn,
          status: mapRun.status,
          succeeded: mapRun.children.filter((c) => c.status === "SUCCEEDED").length,
          failed: mapRun.children.filter((c) => c.status === "FAILED").length,
          pending: mapRun.children.filter((c) => c.status === "PENDING").length,
          ...(mapRun.resultWriterDetails !== undefined && {
            resultWriterDetails: mapRun.resultWriterDetails,
          }),
        },
      }),
      ...(run.output !== undefined && { output: run.output }),
    };
    return summary;
  }
}

interface CheckedOptions {
  from: string;
  to: string;
  platforms: Platform[];
  concurrency: number;
  retryDelayMs: number;
}

function checkOptions(options: RunLocalOptions): CheckedOptions {
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

/** Removes only what a local run writes, so a mistyped --data-dir cannot wipe an unrelated folder. */
async function cleanDataDir(dataDir: string): Promise<void> {
  for (const name of ["dynamodb", DYNAMODB_LOCAL_DIR, "s3", "executions", PARAMS_FILE]) {
    await rm(join(dataDir, name), { recursive: true, force: true });
  }
}

async function resolveCatalogueParams(dataDir: string, options: RunLocalOptions): Promise<CatalogueParams> {
  let saved: Partial<CatalogueParams> = {};
  try {
    saved = JSON.parse(await readFile(join(dataDir, PARAMS_FILE), "utf8")) as Partial<CatalogueParams>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const params: CatalogueParams = {
    seed: options.seed ?? saved.seed ?? DEFAULT_SEED,
    granulesPerDay: options.granulesPerDay ?? saved.granulesPerDay ?? DEFAULT_GRANULES_PER_DAY,
    productSize: options.productSize ?? saved.productSize ?? DEFAULT_PRODUCT_SIZE,
  };
  if (options.hub === undefined) {
    await writeFile(join(dataDir, PARAMS_FILE), `${JSON.stringify(params, null, 2)}\n`);
  }
  return params;
}

function documentClient(stores: EmbeddedStores): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(stores.dynamo, { marshallOptions: { removeUndefinedValues: true } });
}

/**
 * The environment the stack gives its Lambda functions (read from the synthesized template, so a
 * key the stack adds reaches the local run too), pointed at the embedded stores and the hub.
 * Secret ids are dropped: the runtime gets the credentials directly.
 */
/**
 * The environment a synthesized function has, pointed at the embedded stores and the hub: secret ids
 * are dropped (local credentials are passed in directly) and so is the Lambda-only NODE_OPTIONS.
 * The stack's tile allow-list is read from the repository, unless `allTiles`.
 */
export function lambdaEnvironment(
  workflow: SynthesizedWorkflow,
  stores: EmbeddedStores,
  hub: { kind: "dhus" | "cdse"; url: string; tokenUrl?: string; downloadUrl?: string },
  options: { allTiles?: boolean } = {},
): Record<string, string> {
  const env = { ...workflow.environment };
  delete env["HUB_SECRET_ID"];
  delete env["DOWNLOAD_HUB_SECRET_ID"];
  delete env["NODE_OPTIONS"];
  // The fetch function's bundled file name: locally the list is read from the repository (below).
  delete env["TILE_ALLOW_LIST_FILE"];
  const tiles = options.allTiles === true ? undefined : tileAllowListPath(workflow);
  return {
    ...env,
    ...(tiles !== undefined && { TILE_ALLOW_LIST_FILE: tiles }),
    TABLE_NAME: stores.tableName,
    BUCKET_NAME: stores.bucketName,
    WORK_BUCKET_NAME: stores.workBucketName,
    HUB_KIND: hub.kind,
    HUB_URL: hub.url,
    ...(hub.tokenUrl !== undefined && { CDSE_TOKEN_URL: hub.tokenUrl }),
    ...(hub.downloadUrl !== undefined && { DOWNLOAD_HUB_URL: hub.downloadUrl }),
  };
}

interface RunState {
  executionName: string;
  step: string;
  discovered: number;
  manifest?: number;
  downloaded: number;
  alreadyDownloaded: number;
  leasedElsewhere: number;
  failed: number;
  failures: Record<string, number>;
  inFlight: number;
  retries: number;
  bytes: number;
  firstDownloadAt?: number;
  output?: WindowSummary;
  record: LocalExecutionRecord;
}

type Handler = (event: unknown, context?: { getRemainingTimeInMillis(): number }) => Promise<unknown>;

/** The placeholder ARN of the local state machine (the Distributed Map's children run "on" it). */
export const LOCAL_STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:local";

async function execute(args: {
  local: LocalDefinition;
  env: Record<string, string>;
  stores: EmbeddedStores;
  hub: { kind: "dhus" | "cdse"; credentials: Credentials; mock?: MockHub };
  workflow: SynthesizedWorkflow;
  checked: CheckedOptions;
  options: RunLocalOptions;
  dataDir: string;
  redriven?: LocalExecutionRecord;
  /** Tells apart the names of executions started in the same millisecond (runLocalOverlapping). */
  nameSuffix?: string;
}): Promise<RunState> {
  const { local, stores, hub, workflow, checked, options, dataDir, redriven } = args;
  const handlers = await loadHandlers(workflow.tasks);
  const timeouts = workflow.timeouts;

  const executionName =
    redriven?.name ?? `local-${new Date().toISOString().replace(/[:.]/g, "-")}${args.nameSuffix ?? ""}`;
  const executionArn =
    redriven?.executionArn ?? `arn:aws:states:us-east-1:123456789012:execution:local:${executionName}`;
  const input = redriven?.input ?? {
    from: checked.from,
    to: checked.to,
    platforms: checked.platforms,
    ...(options.downloadOnly === true && { downloadOnly: true }),
  };
  const record: LocalExecutionRecord = redriven ?? {
    name: executionName,
    executionArn,
    status: "RUNNING",
    input,
    window: {
      from: checked.from,
      to: checked.to,
      platforms: checked.platforms,
      downloadOnly: options.downloadOnly === true,
      // A redrive that restarts at the search filters the tiles as the first run did.
      allTiles: options.allTiles === true,
    },
    hub: { kind: hub.kind, mock: hub.mock !== undefined },
    startDate: new Date().toISOString(),
    redriveCount: 0,
    mapRuns: {},
  };
  // "Redriven executions use the same state machine definition and execution ARN as the original
  // execution attempt" and continue "from the unsuccessful step" with its input (RedriveExecution).
  // One difference: AWS redrives only the failed iterations of an inline Map (FetchLinks); here that
  // state restarts whole, which FetchPage tolerates (it resumes each query from its stored offset).
  const restartAt: FailedState | undefined = redriven?.failedState;
  if (redriven !== undefined) {
    record.redriveCount++;
    record.redriveDate = new Date().toISOString();
    record.status = "RUNNING";
    delete record.error;
    delete record.failedState;
    delete record.stopDate;
  }
  await saveExecutionRecord(dataDir, record);

  const started = Date.now();
  const state: RunState = {
    executionName,
    step: "starting",
    discovered: 0,
    downloaded: 0,
    alreadyDownloaded: 0,
    leasedElsewhere: 0,
    failed: 0,
    failures: {},
    inFlight: 0,
    retries: 0,
    bytes: 0,
    record,
  };
  const report = () => {
    if (options.onProgress === undefined) return;
    const done = state.downloaded + state.alreadyDownloaded + state.leasedElsewhere + state.failed;
    const downloadMs = state.firstDownloadAt === undefined ? 0 : Date.now() - state.firstDownloadAt;
    options.onProgress({
      step: state.step,
      discovered: state.discovered,
      manifest: state.manifest,
      downloaded: state.downloaded + state.alreadyDownloaded,
      failed: state.failed,
      pending: Math.max(0, (state.manifest ?? 0) - done),
      inFlight: state.inFlight,
      retries: state.retries,
      bytes: state.bytes,
      elapsedMs: Date.now() - started,
      mbPerSecond: downloadMs > 0 ? state.bytes / 1e6 / (downloadMs / 1000) : 0,
    });
  };

  const invoke = async (name: WorkflowTaskName, input: unknown): Promise<unknown> => {
    // A LambdaInvoke without payloadResponseOnly hands over {FunctionName, Payload}; with it, the payload.
    const payload =
      typeof input === "object" && input !== null && "FunctionName" in input && "Payload" in input
        ? (input as { Payload: unknown }).Payload
        : input;
    const functionArn = local.taskResources[name];
    if (functionArn !== undefined) {
      options.onAwsCall?.({
        principal: "StateMachine",
        service: "lambda",
        command: "Invoke",
        input: { FunctionName: functionArn },
      });
    }
    const deadline = Date.now() + (timeouts[name] ?? 900) * 1000;
    try {
      const result = await asPrincipal(name, () =>
        handlers[name](payload, { getRemainingTimeInMillis: () => deadline - Date.now() }),
      );
      // Lambda returns JSON: drop what JSON drops (undefined, functions) exactly as the service would.
      return JSON.parse(JSON.stringify(result ?? null));
    } catch (error) {
      throw asLambdaError(error);
    }
  };

  const lambdaBindings: Record<WorkflowTaskName, (input: unknown) => Promise<unknown>> = {
    GenerateQueries: (input) => invoke("GenerateQueries", input),
    FetchPage: async (input) => {
      const result = (await invoke("FetchPage", input)) as { recorded?: number };
      state.discovered += result.recorded ?? 0;
      report();
      return result;
    },
    WriteManifest: (input) => invoke("WriteManifest", input),
    Download: async (input) => {
      state.inFlight++;
      state.firstDownloadAt ??= Date.now();
      report();
      try {
        const result = (await invoke("Download", input)) as { outcome: string; bytes?: number };
        if (result.outcome === "downloaded") {
          state.downloaded++;
          state.bytes += result.bytes ?? 0;
        } else if (result.outcome === "already-downloaded") {
          state.alreadyDownloaded++;
        } else {
          state.leasedElsewhere++;
        }
        return result;
      } finally {
        state.inFlight--;
        report();
      }
    },
    Summarize: (input) => invoke("Summarize", input),
  };
  const unbound = local.taskStates.filter((name) => !(name in lambdaBindings));
  if (unbound.length > 0) throw new Error(`no local binding for Task state(s) ${unbound.join(", ")}`);

  const retryIntervalOverrides: Record<string, number> = {};
  for (const name of local.taskStates) retryIntervalOverrides[name] = checked.retryDelayMs;
  for (const map of local.distributedMaps) retryIntervalOverrides[map.stateName] = checked.retryDelayMs;

  const mapRun = (map: DistributedMapNote) => async (mapInput: unknown) =>
    runMapRun({
      map,
      input: mapInput,
      execution: { arn: executionArn, name: executionName },
      stateMachineArn: LOCAL_STATE_MACHINE_ARN,
      s3: stores.s3,
      // The definition names the synthesized buckets; here they are the embedded ones.
      buckets: {
        ...(workflow.environment["WORK_BUCKET_NAME"] !== undefined && {
          [workflow.environment["WORK_BUCKET_NAME"]]: stores.workBucketName,
        }),
        ...(workflow.environment["BUCKET_NAME"] !== undefined && {
          [workflow.environment["BUCKET_NAME"]]: stores.bucketName,
        }),
      },
      child: { taskResourceLocalHandlers: lambdaBindings as never, retryIntervalOverrides },
      previous: record.mapRuns[map.stateName],
      onAwsCall: options.onAwsCall,
      onStart: (mapRecord) => {
        state.manifest = mapRecord.children.filter((c) => c.status !== "SUCCEEDED").length;
        report();
      },
      onChildEvent: (_child, event: EventLog) => {
        if (event.type === "StateRetried") {
          state.retries++;
          report();
        }
      },
      onChildSettled: (child) => {
        if (child.status !== "FAILED") return;
        state.failed++;
        const name = child.error?.Error ?? "Unknown";
        state.failures[name] = (state.failures[name] ?? 0) + 1;
        report();
      },
      onRecord: (mapRecord) => {
        record.mapRuns[map.stateName] = mapRecord;
      },
    });
  const bindings: Record<string, (input: unknown) => Promise<unknown>> = { ...lambdaBindings };
  for (const map of local.distributedMaps) bindings[map.stateName] = mapRun(map);

  // A redrive starts at the failed state: the states before it are not reachable from there, and
  // the definition was validated from its own StartAt on the first run.
  const machine = new StateMachine(
    { ...local.definition, StartAt: restartAt?.name ?? local.definition.StartAt } as never,
    { validationOptions: restartAt === undefined ? { checkArn: false } : { noValidate: true } },
  );
  const execution = machine.run((restartAt === undefined ? input : restartAt.input) as never, {
    overrides: {
      taskResourceLocalHandlers: bindings as never,
      retryIntervalOverrides,
    },
    context: { Execution: { Id: executionArn, Name: executionName } },
  });
  let entered: FailedState | undefined;
  const watching = watchEvents(execution.eventLogs, (event) => {
    if (event.type === "StateEntered" && event.index === undefined) {
      state.step = event.state.name;
      entered = { name: event.state.name, input: event.state.input };
      report();
    } else if (event.type === "StateRetried") {
      state.retries++;
      report();
    }
  });
  let failure: unknown;
  try {
    state.output = (await execution.result) as unknown as WindowSummary;
    record.status = "SUCCEEDED";
  } catch (error) {
    await watching;
    failure = originalError(error);
    record.status = "FAILED";
    record.failedState = entered ?? { name: local.definition.StartAt, input };
    record.error = {
      name: failure instanceof Error ? failure.name : "Error",
      message: failure instanceof Error ? failure.message : String(failure),
    };
  } finally {
    await watching;
    record.stopDate = new Date().toISOString();
    await saveExecutionRecord(dataDir, record);
  }
  // A Map Run beyond its tolerated failures is an outcome the summary reports (the execution FAILED,
  // as in AWS); any other failure propagates with its own name, as before.
  const failedInMap = local.distributedMaps.some((map) => map.stateName === record.failedState?.name);
  if (failure !== undefined && !(failedInMap && failure instanceof StatesError)) throw failure;
  state.step = "done";
  report();
  return state;
}

async function watchEvents(
  events: AsyncGenerator<EventLog>,
  onEvent: (event: EventLog) => void,
): Promise<void> {
  for await (const event of events) {
    onEvent(event);
    if (
      event.type === "ExecutionSucceeded" ||
      event.type === "ExecutionFailed" ||
      event.type === "ExecutionAborted"
    ) {
      return;
    }
  }
}

async function loadHandlers(
  tasks: Record<WorkflowTaskName, string>,
): Promise<Record<WorkflowTaskName, Handler>> {
  const entries = await Promise.all(
    (Object.entries(tasks) as [WorkflowTaskName, string][]).map(async ([name, file]) => {
      const module = (await import(`@hls-s2/functions/${file}`)) as { handler: Handler };
      return [name, module.handler] as const;
    }),
  );
  return Object.fromEntries(entries) as Record<WorkflowTaskName, Handler>;
}

/**
 * Lambda reports a function error to Step Functions as Error = errorType and Cause = a JSON string
 * `{errorType, errorMessage, trace}`; the local engine uses the thrown error's name and message, so
 * build exactly that and a child's history (and the ResultWriter's FAILED file) show what AWS shows.
 */
const LAMBDA_ERRORS = new WeakSet<Error>();

function asLambdaError(error: unknown): Error {
  const original = error instanceof Error ? error : new Error(String(error));
  const cause = JSON.stringify({
    errorType: original.name,
    errorMessage: original.message,
    trace: (original.stack ?? "").split("\n"),
  });
  const lambdaError = new Error(cause, { cause: original });
  lambdaError.name = original.name;
  LAMBDA_ERRORS.add(lambdaError);
  return lambdaError;
}

/** The engine wraps a failed execution's error (ExecutionError → our Lambda error → the handler's): unwrap to the handler's, e.g. HubAuthError. */
function originalError(error: unknown): unknown {
  let current = error;
  while (current instanceof Error && (current instanceof ExecutionError || LAMBDA_ERRORS.has(current))) {
    if (current.cause === undefined) break;
    current = current.cause;
  }
  return current;
}
