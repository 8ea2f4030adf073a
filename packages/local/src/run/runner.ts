import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { S3Client } from "@aws-sdk/client-s3";
import { daysBetween } from "@hls-s2/core/domain";
import { InvalidInputError } from "@hls-s2/core/errors";
import type { Credentials } from "@hls-s2/core/hub";
import { createDocumentClient } from "@hls-s2/core/store";
import { createS3Client } from "@hls-s2/functions/lib/clients";
import { FAULT_PROFILES, type MockHub, startMockHub } from "@hls-s2/mock-hub";
import {
  adaptDefinition,
  dynamoClientConfig,
  type EmbeddedStores,
  findRedrivableExecution,
  type LocalExecutionRecord,
  loadSynthesizedWorkflow,
  recordAwsCalls,
  refuseCallsAfterKill,
  s3ClientConfig,
  startEmbeddedStores,
} from "../aws";
import { StatesError } from "../errors";
import { buildCatalogue, cleanDataDir, resolveCatalogueParams, SYNTH_CACHE_FILE } from "./data-folder";
import { lambdaEnvironment } from "./environment";
import { execute, type RunState } from "./execute";
import { releaseStaleLocalLeases, releaseStaleLocalSlots } from "./leases";
import { lockDataFolder } from "./lock";
import {
  type CheckedOptions,
  checkOptions,
  LOCAL_PART_SIZE_MIB,
  MOCK_CREDENTIALS,
  type OverlappingExecution,
  type RedriveLocalOptions,
  type RunLocalOptions,
} from "./options";
import type { ProgressSnapshot } from "./progress";
import { type LocalRunSummary, summarizeRun } from "./summary";

const MOCK_CDSE_TOKEN_PATH = "/auth/realms/CDSE/protocol/openid-connect/token";

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

/** What a driver of executions gets (runLocalDriven): a StartExecution, the stores and the hub. */
export interface LocalDriver {
  start(spec: { name: string; input: Record<string, unknown> }): Promise<RunState>;
  stores: EmbeddedStores;
  hub: { kind: "dhus" | "cdse"; url: string; credentials: Credentials; mock?: MockHub };
}

/**
 * Sets up the folder, hub and stores as runLocal does, then lets `drive` start executions by name and
 * input while it runs (the live day's continuous mode, live/day.ts); returns what `drive` returns.
 * @throws as runLocal.
 */
export async function runLocalDriven<T>(
  options: RunLocalOptions,
  drive: (driver: LocalDriver) => Promise<T>,
): Promise<T> {
  const checked = checkOptions(options);
  let result: T | undefined;
  await inLockedFolder(options.dataDir, () =>
    runInFolder(options, checked, undefined, [], async (driver) => {
      result = await drive(driver);
    }),
  );
  return result as T;
}

async function runInFolder(
  options: RunLocalOptions,
  checked: CheckedOptions,
  redriven?: LocalExecutionRecord,
  overlapping: OverlappingExecution[] = [{}],
  drive?: (driver: LocalDriver) => Promise<void>,
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
      const faults =
        typeof options.faults === "object" ? options.faults : FAULT_PROFILES[options.faults ?? "none"];
      const mock = await startMockHub({
        catalogue:
          options.mockCatalogue ??
          buildCatalogue(params, daysBetween(checked.from, checked.to), faults.duplicateNames),
        port: 0,
        host: "127.0.0.1",
        credentials: MOCK_CREDENTIALS,
        ...(options.mockMaxDownloads !== undefined && { maxDownloads: options.mockMaxDownloads }),
        ...(options.mockBandwidthBytesPerSecond !== undefined && {
          bandwidthBytesPerSecond: options.mockBandwidthBytesPerSecond,
        }),
        faults,
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

    const stores = await startEmbeddedStores({
      dataDir,
      dynamo: options.dynamo,
      onUploadCompleted: options.onUploadCompleted,
    });
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
      ...options.lambdaEnv,
    };
    // One runtime (one "container" per function) for every execution of this folder: they share it as
    // warm Lambdas would, and the quota is in the table they share, not in it.
    // Handlers log and publish metrics through Powertools, which reads process.env when first
    // imported; locally the progress line and the summary replace both unless the user asks.
    process.env["POWERTOOLS_LOG_LEVEL"] ??= "SILENT";
    process.env["POWERTOOLS_METRICS_DISABLED"] ??= "true";
    // A killed invocation's handler runs on in-process: its later AWS calls are refused (lambda.ts).
    refuseCallsAfterKill(stores.s3);
    refuseCallsAfterKill(stores.dynamo);
    if (options.onAwsCall !== undefined) {
      recordAwsCalls(stores.s3, "s3", options.onAwsCall);
      recordAwsCalls(stores.dynamo, "dynamodb", options.onAwsCall);
    }
    const handlerClients = await interposedClients(stores, options.interpose, resources);
    if (options.onAwsCall !== undefined) {
      if (handlerClients.s3 !== stores.s3) recordAwsCalls(handlerClients.s3, "s3", options.onAwsCall);
      if (handlerClients.dynamo !== stores.dynamo)
        recordAwsCalls(handlerClients.dynamo, "dynamodb", options.onAwsCall);
    }
    const runtime = await import("@hls-s2/functions/lib/runtime");
    runtime.configureRuntime({
      env,
      clients: { dynamo: createDocumentClient(handlerClients.dynamo), s3: handlerClients.s3 },
      credentials: { hub: hub.credentials, download: hub.credentials },
      ...(options.hubRetryDelayMs !== undefined && {
        hubRetryTuning: { minTimeoutMs: options.hubRetryDelayMs },
      }),
    });
    resources.push({ close: async () => runtime.resetRuntime() });
    // Every progress line says which DynamoDB stand-in holds the table.
    const onProgress = options.onProgress;
    const withStore =
      onProgress &&
      ((snapshot: ProgressSnapshot) => onProgress({ ...snapshot, store: stores.dynamoBackend }));
    if (drive !== undefined) {
      const runOptions = { ...options, onProgress: withStore };
      await drive({
        stores,
        hub,
        start: (start) =>
          execute({ local, stores, hub, workflow, checked, options: runOptions, dataDir, start }),
      });
      return [];
    }
    // Every execution ends before the stores close under it; then the first failure propagates.
    const settled = await Promise.allSettled(
      overlapping.map(async (spec, index) => {
        if ((spec.delayMs ?? 0) > 0) await sleep(spec.delayMs);
        await spec.beforeStart?.();
        const runOptions = {
          ...options,
          onProgress: withStore,
          ...(spec.downloadOnly !== undefined && { downloadOnly: spec.downloadOnly }),
        };
        const window = {
          ...(spec.from !== undefined && { from: spec.from }),
          ...(spec.to !== undefined && { to: spec.to }),
        };
        const specChecked = { ...checked, ...window };
        const nameSuffix = overlapping.length > 1 ? `-${index + 1}` : "";
        return execute({
          local,
          stores,
          hub,
          workflow,
          checked: specChecked,
          options: runOptions,
          dataDir,
          redriven,
          nameSuffix,
        });
      }),
    );
    const rejected = settled.find((outcome) => outcome.status === "rejected");
    if (rejected !== undefined) throw rejected.reason;
    const runs = settled.map((outcome) => (outcome as PromiseFulfilledResult<RunState>).value);
    const summaries: LocalRunSummary[] = [];
    for (const [index, run] of runs.entries()) {
      const spec = overlapping[index]!;
      const runChecked = { ...checked, from: spec.from ?? checked.from, to: spec.to ?? checked.to };
      summaries.push(
        await summarizeRun(run, { checked: runChecked, dataDir, hub, stores, started, releasedLeases }),
      );
    }
    return summaries;
  } finally {
    // Stop in reverse order of start; a close failure must not hide the run's own error.
    for (const resource of resources.reverse()) await resource.close().catch(() => undefined);
  }
}

/**
 * The SDK clients the handlers use: the embedded stores' own, or new ones pointed at what the run's
 * `interpose` option stands in front of each store (closed with the run's other resources).
 */
async function interposedClients(
  stores: EmbeddedStores,
  interpose: RunLocalOptions["interpose"],
  resources: { close(): Promise<void> }[],
): Promise<{ s3: S3Client; dynamo: DynamoDBClient }> {
  let { s3, dynamo } = stores;
  if (interpose?.s3 !== undefined) {
    const front = await interpose.s3(stores.s3Endpoint);
    // First in the list is closed last: after the stores, so a handler it still holds fails, not hangs.
    resources.unshift(front);
    s3 = createS3Client(s3ClientConfig(front.url));
    resources.push({ close: async () => s3.destroy() });
  }
  if (interpose?.dynamodb !== undefined) {
    const front = await interpose.dynamodb(stores.dynamoEndpoint);
    resources.unshift(front);
    dynamo = new DynamoDBClient(dynamoClientConfig(front.url));
    resources.push({ close: async () => dynamo.destroy() });
  }
  return { s3, dynamo };
}
