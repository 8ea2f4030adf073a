import type { WindowSummary } from "@hls-s2/core/domain";
import type { Credentials } from "@hls-s2/core/hub";
import type { MockHub } from "@hls-s2/mock-hub";
import {
  bindLambdaTasks,
  type EmbeddedStores,
  executionArnOf,
  type Handler,
  type LocalDefinition,
  type LocalExecutionRecord,
  runExecution,
  type SynthesizedWorkflow,
  type TaskBinding,
  type WorkflowTaskName,
} from "../aws";
import type { CheckedOptions, RunLocalOptions } from "./options";

/** What one execution did, counted as its bound handlers return; the local summary reads it. */
export interface RunState {
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

/**
 * Runs one execution of the day's workflow (or redrives `redriven`) with the functions' real handlers,
 * counting what they return for the progress line and the summary; keeps its record in the data
 * folder for a redrive.
 * @throws whatever failed the execution outside a Map Run (a Map Run beyond its tolerated failures
 *   is an outcome: the record and the returned state say FAILED).
 */
export async function execute(args: {
  local: LocalDefinition;
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
  const { local, stores, workflow, options, redriven } = args;
  const record = redriven ?? newRecord(args);
  const started = Date.now();
  const state: RunState = {
    executionName: record.name,
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

  const tasks = bindLambdaTasks({
    local,
    handlers: await loadHandlers(workflow.tasks),
    timeouts: workflow.timeouts,
    options: options.lambda,
    onAwsCall: options.onAwsCall,
  });
  tasks["FetchPage"] = countPages(tasks["FetchPage"]!, state, report);
  tasks["Download"] = countDownloads(tasks["Download"]!, state, report);

  state.output = (await runExecution({
    local,
    record,
    redrive: redriven !== undefined,
    dataDir: args.dataDir,
    tasks,
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
    retryIntervalMs: args.checked.retryDelayMs,
    onAwsCall: options.onAwsCall,
    listener: {
      onStateEntered: (name) => {
        state.step = name;
        report();
      },
      onRetry: () => {
        state.retries++;
        report();
      },
      onMapRunStart: (mapRecord) => {
        state.manifest = mapRecord.children.filter((c) => c.status !== "SUCCEEDED").length;
        report();
      },
      onChildSettled: (child) => {
        if (child.status !== "FAILED") return;
        state.failed++;
        const name = child.error?.Error ?? "Unknown";
        state.failures[name] = (state.failures[name] ?? 0) + 1;
        report();
      },
    },
  })) as WindowSummary | undefined;
  state.step = "done";
  report();
  return state;
}

/** A new execution's record: the window's input, and what a redrive needs to serve the same day. */
function newRecord(args: {
  hub: { kind: "dhus" | "cdse"; mock?: MockHub };
  checked: CheckedOptions;
  options: RunLocalOptions;
  nameSuffix?: string;
}): LocalExecutionRecord {
  const { checked, options } = args;
  const name = `local-${new Date().toISOString().replace(/[:.]/g, "-")}${args.nameSuffix ?? ""}`;
  return {
    name,
    executionArn: executionArnOf(name),
    status: "RUNNING",
    input: {
      from: checked.from,
      to: checked.to,
      platforms: checked.platforms,
      ...(options.downloadOnly === true && { downloadOnly: true }),
    },
    window: {
      from: checked.from,
      to: checked.to,
      platforms: checked.platforms,
      downloadOnly: options.downloadOnly === true,
      // A redrive that restarts at the search filters the tiles as the first run did.
      allTiles: options.allTiles === true,
    },
    hub: { kind: args.hub.kind, mock: args.hub.mock !== undefined },
    startDate: new Date().toISOString(),
    redriveCount: 0,
    mapRuns: {},
  };
}

/** FetchPage's answers counted: the granules each page recorded. */
function countPages(fetchPage: TaskBinding, state: RunState, report: () => void): TaskBinding {
  return async (input) => {
    const result = (await fetchPage(input)) as { recorded?: number };
    state.discovered += result.recorded ?? 0;
    report();
    return result;
  };
}

/** Download's answers counted by outcome, and the invocations in flight. */
function countDownloads(download: TaskBinding, state: RunState, report: () => void): TaskBinding {
  return async (input) => {
    state.inFlight++;
    state.firstDownloadAt ??= Date.now();
    report();
    try {
      const result = (await download(input)) as { outcome: string; bytes?: number };
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
  };
}

/** Each Task's handler, imported from the functions package as the stack bundles it. */
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
