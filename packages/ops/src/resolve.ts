import { resolve } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SFNClient } from "@aws-sdk/client-sfn";
import { GetParametersByPathCommand, type Parameter, SSMClient } from "@aws-sdk/client-ssm";
import {
  DEFAULT_LOOKBACK_DAYS,
  STAGE_PARAMETERS,
  type StageParameterKey,
  stageParameterPath,
} from "@hls-s2/core/config";
import { ConfigError, InvalidInputError } from "@hls-s2/core/errors";
import { createDocumentClient, GranuleStore, SlotPool } from "@hls-s2/core/store";
import type {
  DataFolderLock,
  EmbeddedStores,
  LocalRunSummary,
  RedriveLocalOptions,
  RunLocalOptions,
} from "@hls-s2/local";
import { type Launcher, type SfnTarget, sfnLauncher } from "./executions";

/** A deployed stage's resources, as its SSM parameters name them. */
export interface StageResources {
  stage: string;
  region: string;
  stateMachineArn: string;
  tableName: string;
  uploadBucketName: string;
  workBucketName: string;
  lookbackDays: number;
}

/** What every command works against: the granule table and a way to start executions. */
export interface OpsContext {
  mode: "aws" | "local";
  /** "stage prod (us-west-2)" or "local data /path". */
  label: string;
  store(): Promise<GranuleStore>;
  /** The hub's download quota of the stage (or data folder), shared by every execution. */
  slots(): Promise<SlotPool>;
  /** The work bucket (delivery manifests) and a client for it. */
  workBucket(): Promise<{ s3: S3Client; bucket: string }>;
  launch: Launcher;
  /** Step Functions of the stage; absent in local mode. */
  sfn?: SfnTarget;
  /** Local mode: redrives a FAILED execution of the data folder in-process (AWS's redrive semantics). */
  redriveLocal?: (input: { executionName?: string }) => Promise<LocalRunSummary>;
  lookbackDays: number;
  close(): Promise<void>;
}

/** SDK settings shared by the stage's clients (tests pass endpoints and credentials here). */
export interface AwsClientConfig {
  region?: string;
  endpoint?: string;
  credentials?: unknown;
  maxAttempts?: number;
}

const STAGE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]*$/;

/**
 * Reads a stage's SSM parameters (`/hls-s2/<stage>/…`).
 * @throws InvalidInputError on a malformed stage name; ConfigError naming the stage when it has no
 *   parameters (not deployed in this region) or misses some, or when no region is configured.
 */
export async function resolveStage(
  input: { stage: string },
  options: { ssm?: SSMClient; clientConfig?: AwsClientConfig } = {},
): Promise<StageResources> {
  const { stage } = input;
  if (!STAGE_PATTERN.test(stage)) {
    throw new InvalidInputError(`--stage must be a stage name like prod or dev-alice, got ${stage}`, {
      field: "stage",
    });
  }
  const ssm = options.ssm ?? new SSMClient({ ...options.clientConfig } as never);
  const region = await resolveRegion(ssm);
  const path = stageParameterPath(stage);
  const parameters: Parameter[] = [];
  try {
    let nextToken: string | undefined;
    do {
      const page = await ssm.send(new GetParametersByPathCommand({ Path: path, NextToken: nextToken }));
      parameters.push(...(page.Parameters ?? []));
      nextToken = page.NextToken;
    } while (nextToken !== undefined);
  } finally {
    if (options.ssm === undefined) ssm.destroy();
  }
  if (parameters.length === 0) {
    throw new ConfigError([
      {
        key: "stage",
        message: `stage "${stage}" is not deployed in ${region}: no SSM parameters under ${path} (wrong --stage or --region?)`,
      },
    ]);
  }
  const byName = new Map(parameters.map((p) => [p.Name, p.Value]));
  const values = {} as Record<StageParameterKey, string>;
  const missing: string[] = [];
  for (const [key, name] of Object.entries(STAGE_PARAMETERS) as [StageParameterKey, string][]) {
    const value = byName.get(`${path}${name}`);
    if (value === undefined || value === "") missing.push(`${path}${name}`);
    else values[key] = value;
  }
  if (missing.length > 0) {
    throw new ConfigError([
      { key: "stage", message: `stage "${stage}" in ${region} lacks ${missing.join(", ")} (redeploy it)` },
    ]);
  }
  return {
    stage,
    region,
    stateMachineArn: values.stateMachineArn,
    tableName: values.tableName,
    uploadBucketName: values.uploadBucketName,
    workBucketName: values.workBucketName,
    lookbackDays: Number(values.lookbackDays) || DEFAULT_LOOKBACK_DAYS,
  };
}

async function resolveRegion(client: { config: { region: () => Promise<string> } }): Promise<string> {
  try {
    return await client.config.region();
  } catch (error) {
    throw new ConfigError(
      [{ key: "region", message: "no AWS region: pass --region or set AWS_REGION (or a profile's region)" }],
      { cause: error },
    );
  }
}

/**
 * Opens a deployed stage: resolves its resources, then the granule table and Step Functions clients.
 * @throws as resolveStage.
 */
export async function openStage(
  input: { stage: string },
  options: { clientConfig?: AwsClientConfig; ssm?: SSMClient; now?: () => Date } = {},
): Promise<OpsContext> {
  const resources = await resolveStage(input, options);
  const config = { ...options.clientConfig, region: resources.region } as never;
  const dynamo = new DynamoDBClient(config);
  const sfn: SfnTarget = {
    client: new SFNClient(config),
    stateMachineArn: resources.stateMachineArn,
    region: resources.region,
  };
  const store = new GranuleStore(createDocumentClient(dynamo), { tableName: resources.tableName });
  const slots = new SlotPool(createDocumentClient(dynamo), { tableName: resources.tableName });
  let s3: S3Client | undefined;
  return {
    mode: "aws",
    label: `stage ${resources.stage} (${resources.region})`,
    store: async () => store,
    slots: async () => slots,
    workBucket: async () => {
      s3 ??= new S3Client(config);
      return { s3, bucket: resources.workBucketName };
    },
    launch: sfnLauncher(sfn, { now: options.now }),
    sfn,
    lookbackDays: resources.lookbackDays,
    close: async () => {
      dynamo.destroy();
      sfn.client.destroy();
      s3?.destroy();
    },
  };
}

export interface OpenLocalOptions {
  /** Commands that read the table need an existing data folder; a backfill may create one. */
  requireData?: boolean;
  /** The local runner (tests replace it). */
  run?: (options: RunLocalOptions) => Promise<LocalRunSummary>;
  /** The local redrive (tests may replace it). */
  redrive?: (options: RedriveLocalOptions) => Promise<LocalRunSummary>;
  onProgress?: RunLocalOptions["onProgress"];
  /** Hands over the mock hub a local run or redrive starts (tests count its requests). */
  onMockHub?: RunLocalOptions["onMockHub"];
  /** Wait before each Retry of a local run or redrive (default the runner's). */
  retryDelayMs?: number;
}

/**
 * Opens a local-mode data folder: its embedded table on demand, and the local runner in place of
 * StartExecution.
 * @throws ConfigError when the folder holds no local data and `requireData` is set.
 */
export async function openLocal(
  input: { dataDir: string },
  options: OpenLocalOptions = {},
): Promise<OpsContext> {
  const dataDir = resolve(input.dataDir);
  // Loaded on demand: the local runtime pulls in the CDK synth, which a --stage command never needs.
  const local = await import("@hls-s2/local");
  const run = options.run ?? local.runLocal;
  const redriveRun = options.redrive ?? local.redriveLocal;
  const runSettings = {
    ...(options.onProgress !== undefined && { onProgress: options.onProgress }),
    ...(options.onMockHub !== undefined && { onMockHub: options.onMockHub }),
    ...(options.retryDelayMs !== undefined && { retryDelayMs: options.retryDelayMs }),
  };
  if (options.requireData === true && !local.hasLocalTable(dataDir)) {
    throw new ConfigError([
      {
        key: "local",
        message: `no local-mode data in ${dataDir}: run \`npm run local -- --data-dir ${input.dataDir}\` first`,
      },
    ]);
  }
  let lock: DataFolderLock | undefined;
  let stores: EmbeddedStores | undefined;
  let store: GranuleStore | undefined;
  const closeStores = async () => {
    const open = stores;
    const held = lock;
    stores = undefined;
    store = undefined;
    lock = undefined;
    try {
      await open?.close();
    } finally {
      await held?.release();
    }
  };
  return {
    mode: "local",
    label: `local data ${dataDir}`,
    store: async () => {
      // A local run may be writing this folder: take it first, as the runner does (exit 3 when held).
      lock ??= await local.lockDataFolder(dataDir);
      stores ??= await local.startEmbeddedStores({ dataDir });
      store ??= new GranuleStore(createDocumentClient(stores.dynamo), { tableName: stores.tableName });
      return store;
    },
    slots: async () => {
      lock ??= await local.lockDataFolder(dataDir);
      stores ??= await local.startEmbeddedStores({ dataDir });
      return new SlotPool(createDocumentClient(stores.dynamo), { tableName: stores.tableName });
    },
    workBucket: async () => {
      lock ??= await local.lockDataFolder(dataDir);
      stores ??= await local.startEmbeddedStores({ dataDir });
      return { s3: stores.s3, bucket: stores.workBucketName };
    },
    launch: async (executionInput) => {
      // The runner takes the folder's lock and opens the same on-disk table itself: let both go first.
      await closeStores();
      const summary = await run({
        dataDir,
        from: executionInput.from,
        to: executionInput.to,
        ...(executionInput.platforms !== undefined && { platforms: executionInput.platforms }),
        ...(executionInput.downloadOnly === true && { downloadOnly: true }),
        ...runSettings,
      });
      return { mode: "local", executionName: summary.executionName, summary };
    },
    redriveLocal: async (input) => {
      await closeStores();
      return redriveRun({
        dataDir,
        ...(input.executionName !== undefined && { executionName: input.executionName }),
        ...runSettings,
      });
    },
    lookbackDays: DEFAULT_LOOKBACK_DAYS,
    close: closeStores,
  };
}
