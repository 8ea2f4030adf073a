import "./polyfills";
import type { WindowSummary } from "@hls-s2/core/domain";
import { StatesError } from "@hls-s2/core/errors";
import type { Credentials } from "@hls-s2/core/hub";
import type { MockHub } from "@hls-s2/mock-hub";
import { ExecutionError, StateMachine } from "aws-local-stepfunctions";
import type { DistributedMapNote, LocalDefinition } from "./definition";
import type { EmbeddedStores } from "./embedded";
import { type LocalExecutionRecord, saveExecutionRecord } from "./executions";
import { type Handler, invokeLambda, isLambdaError } from "./lambda";
import { type EventLog, type FailedState, runMapRun } from "./map-run";
import type { CheckedOptions, RunLocalOptions } from "./options";
import type { SynthesizedWorkflow, WorkflowTaskName } from "./workflow";

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

/** The placeholder ARN of the local state machine (the Distributed Map's children run "on" it). */
export const LOCAL_STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:local";

/**
 * Runs one execution of the adapted definition with every Task bound to its handler in-process and
 * each Distributed Map run by the local Map Run; keeps its record in the data folder for a redrive.
 * @throws whatever failed the execution outside a Map Run (a Map Run beyond its tolerated failures
 *   is an outcome: the record and the returned state say FAILED).
 */
export async function execute(args: {
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

  const invoke = async (name: WorkflowTaskName, input: unknown, state: string = name): Promise<unknown> => {
    // A LambdaInvoke without payloadResponseOnly hands over {FunctionName, Payload}; with it, the payload.
    const payload =
      typeof input === "object" && input !== null && "FunctionName" in input && "Payload" in input
        ? (input as { Payload: unknown }).Payload
        : input;
    const functionArn = local.taskResources[state];
    if (functionArn !== undefined) {
      options.onAwsCall?.({
        principal: "StateMachine",
        service: "lambda",
        command: "Invoke",
        input: { FunctionName: functionArn },
      });
    }
    return invokeLambda({
      state,
      functionName: name,
      handler: handlers[name],
      payload,
      synthesizedTimeoutSeconds: timeouts[name],
      options: options.lambda,
    });
  };

  const lambdaBindings: Record<string, (input: unknown) => Promise<unknown>> = {
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
  // Any other Task invoking one of the functions (RecordQueryFailure invokes FetchPage) runs its handler.
  for (const state of local.taskStates) {
    const fn = (Object.keys(handlers) as WorkflowTaskName[]).find(
      (name) =>
        local.taskResources[name] !== undefined && local.taskResources[name] === local.taskResources[state],
    );
    if (!(state in lambdaBindings) && fn !== undefined)
      lambdaBindings[state] = (input) => invoke(fn, input, state);
  }
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

/** The engine wraps a failed execution's error (ExecutionError → our Lambda error → the handler's): unwrap to the handler's, e.g. HubAuthError. */
function originalError(error: unknown): unknown {
  let current = error;
  while (current instanceof Error && (current instanceof ExecutionError || isLambdaError(current))) {
    if (current.cause === undefined) break;
    current = current.cause;
  }
  return current;
}
