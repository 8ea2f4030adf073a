import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "@hls-s2/core/config";
import {
  type Asl,
  type AslState,
  type AwsCall,
  adaptDefinition,
  loadSynthesizedWorkflow,
  type RunLocalOptions,
  runLocal,
} from "@hls-s2/local";
import type { RunCounts, StackFigures } from "./model";

const PER_GRANULE_PRINCIPALS = new Set(["Download", "FetchPage"]);
/** The requests that write a granule's object: priced from the product and part sizes (objectWriteRequests). */
const OBJECT_WRITES = new Set([
  "PutObject",
  "CreateMultipartUpload",
  "UploadPart",
  "CompleteMultipartUpload",
]);
const DYNAMO_READS = new Set(["GetItem", "Query", "Scan", "BatchGetItem"]);

export interface MeasureOptions {
  /** Granules of the sample day (default 20). */
  granules?: number;
  /** Product size of the sample (default 1 MiB: the parts are scaled from the stack, not measured). */
  productSize?: number;
  /** Mock hub faults of the sample; retries add invocations and transitions. */
  faults?: RunLocalOptions["faults"];
}

/**
 * Runs one local day against the mock hub and counts the AWS calls the deployed app would make
 * (RunLocalOptions.onAwsCall), split into per-granule and per-execution work.
 * @throws what runLocal throws.
 */
export async function measureLocalRun(options: MeasureOptions = {}): Promise<RunCounts> {
  const granules = options.granules ?? 20;
  const workflow = await loadSynthesizedWorkflow();
  const taskByArn = new Map(
    Object.entries(adaptDefinition(workflow.definition).taskResources).map(([task, arn]) => [arn, task]),
  );
  const calls: AwsCall[] = [];
  const dataDir = await mkdtemp(join(tmpdir(), "hls-s2-cost-"));
  let downloaded: number;
  try {
    const summary = await runLocal({
      dataDir,
      from: "2026-03-14",
      to: "2026-03-14",
      seed: "cost",
      granulesPerDay: granules,
      productSize: options.productSize ?? 1024 * 1024,
      allTiles: true,
      retryDelayMs: 10,
      // The calls are counted at the SDK clients, whichever stand-in answers: the one that starts fastest.
      dynamo: "dynalite",
      ...(options.faults !== undefined && { faults: options.faults }),
      onAwsCall: (call) => calls.push(call),
    });
    downloaded = summary.totals.downloaded;
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
  const counts: RunCounts = {
    granules: downloaded,
    invocations: {},
    ...countOtherStates(workflow.definition),
    granuleDynamoReads: 0,
    granuleDynamoWrites: 0,
    granuleS3Requests: 0,
    executionDynamoReads: 0,
    executionDynamoWrites: 0,
    executionS3Requests: 0,
  };
  for (const call of calls) {
    const perGranule = PER_GRANULE_PRINCIPALS.has(call.principal);
    if (call.service === "lambda" && call.command === "Invoke") {
      const task = taskByArn.get(String(call.input["FunctionName"])) ?? "unknown";
      counts.invocations[task] = (counts.invocations[task] ?? 0) + 1;
    } else if (call.service === "dynamodb") {
      const units = requestUnits(call);
      if (DYNAMO_READS.has(call.command)) {
        if (perGranule) counts.granuleDynamoReads += units;
        else counts.executionDynamoReads += units;
      } else if (perGranule) counts.granuleDynamoWrites += units;
      else counts.executionDynamoWrites += units;
    } else if (call.service === "s3") {
      // The object's writes are priced from the stack's part size; the local part size is smaller on purpose.
      if (call.principal === "Download" && OBJECT_WRITES.has(call.command)) continue;
      if (perGranule) counts.granuleS3Requests++;
      else counts.executionS3Requests++;
    }
  }
  return counts;
}

/**
 * A BatchWriteItem costs one write request unit per item, a BatchGetItem one read per key ("DynamoDB
 * processes each item in the batch as an individual GetItem request": Download's slot gauge reads the
 * quota's slots so); every other request one.
 */
function requestUnits(call: AwsCall): number {
  if (call.command === "BatchWriteItem") {
    const items = call.input["RequestItems"] as Record<string, unknown[]> | undefined;
    return Object.values(items ?? {}).reduce((sum, list) => sum + list.length, 0);
  }
  if (call.command === "BatchGetItem") {
    const tables = call.input["RequestItems"] as Record<string, { Keys?: unknown[] }> | undefined;
    return Object.values(tables ?? {}).reduce((sum, table) => sum + (table.Keys?.length ?? 0), 0);
  }
  return 1;
}

/**
 * Non-Task states entered at least once: those of the Distributed Map's item processor per granule,
 * all the others per execution (a lower bound: a loop's Choice runs once per page).
 */
function countOtherStates(definition: Asl): {
  otherStatesPerGranule: number;
  otherStatesPerExecution: number;
} {
  let perGranule = 0;
  let perExecution = 0;
  const walk = (states: Record<string, AslState>, inChild: boolean) => {
    for (const state of Object.values(states)) {
      const processor = (state["ItemProcessor"] ?? state["Iterator"]) as
        | { States: Record<string, AslState>; ProcessorConfig?: { Mode?: string } }
        | undefined;
      if (state.Type !== "Task") {
        if (inChild) perGranule++;
        else perExecution++;
      }
      if (processor !== undefined)
        walk(processor.States, inChild || processor.ProcessorConfig?.Mode === "DISTRIBUTED");
    }
  };
  walk(definition.States, false);
  return { otherStatesPerGranule: perGranule, otherStatesPerExecution: perExecution };
}

/** The figures of a synthesized stage the estimate needs (memory, part size, schedule, alarms). */
export async function stackFigures(stage = "prod"): Promise<StackFigures> {
  // The stacks workspace (as for the local runner), loaded only when costing.
  const { synthesizeApp } = await import("@hls-s2/stacks/synth");
  const { WORKFLOW_TASKS } = await import("@hls-s2/stacks/Workflow");
  const app = await synthesizeApp({ stage });
  const memoryMb: Record<string, number> = {};
  let partSizeMib: string | undefined;
  for (const [id, resource] of Object.entries(app.templates.Workflow?.Resources ?? {})) {
    if (resource.Type !== "AWS::Lambda::Function") continue;
    const task = Object.keys(WORKFLOW_TASKS).find((name) => id.startsWith(`${name}Function`));
    if (task === undefined) continue;
    memoryMb[task] = Number(resource.Properties?.["MemorySize"] ?? 128);
    if (task === "Download") {
      const env = (
        resource.Properties?.["Environment"] as { Variables?: Record<string, unknown> } | undefined
      )?.Variables;
      const value = env?.["PART_SIZE_MIB"];
      partSizeMib = typeof value === "string" ? value : undefined;
    }
  }
  // The config's own default when the stack sets none: one truth for the part size.
  const config = parseConfig({
    TABLE_NAME: "t",
    BUCKET_NAME: "b",
    WORK_BUCKET_NAME: "w",
    HUB_KIND: "dhus",
    HUB_URL: "https://hub.invalid",
    ...(partSizeMib !== undefined && { PART_SIZE_MIB: partSizeMib }),
  });
  const count = (stack: keyof typeof app.templates, type: string) =>
    Object.values(app.templates[stack]?.Resources ?? {}).filter((resource) => resource.Type === type).length;
  return {
    memoryMb,
    partSizeBytes: config.partSizeMib * 1024 * 1024,
    executionsPerDay: app.settings.scheduleEnabled ? 1 : 0,
    alarms: count("Alarms", "AWS::CloudWatch::Alarm"),
    dashboards: count("Alarms", "AWS::CloudWatch::Dashboard"),
  };
}
