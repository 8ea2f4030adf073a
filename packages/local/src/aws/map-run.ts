import { type AwsCallListener, STATE_MACHINE_PRINCIPAL } from "./aws-calls";
import "./polyfills";
import { randomUUID } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import { InvalidInputError } from "@hls-s2/core/errors";
import { ExecutionError, type StateMachine } from "aws-local-stepfunctions";
import { StatesError } from "../errors";
import type { Asl, AslState, DistributedMapNote } from "./definition";
import { readItems, writeResults } from "./map-run-s3";
import { passState } from "./pass-state";
import { stateMachine } from "./state-machine";

/**
 * The Distributed Map semantics aws-local-stepfunctions lacks, implemented from the AWS Step Functions
 * documentation (each passage quoted where it is followed) and driven by the synthesized state's own
 * fields: ItemReader (S3 JSON), ItemSelector with `$$.Map.Item`, MaxConcurrency, one child execution
 * per item running the ItemProcessor verbatim on the engine, ToleratedFailurePercentage/Count,
 * ResultWriter, and the redrive of a Map Run.
 */

export type ChildStatus = "PENDING" | "SUCCEEDED" | "FAILED";

/** Where an execution stopped unsuccessfully: the state it was in and that state's input. */
export interface FailedState {
  name: string;
  input: unknown;
}

export interface MapRunChild {
  index: number;
  name: string;
  executionArn: string;
  /** PENDING: not started (yet). */
  status: ChildStatus;
  /** The child's execution input: the ItemSelector applied to its item. */
  input: unknown;
  output?: unknown;
  error?: { Error: string; Cause: string };
  failedState?: FailedState;
  redriveCount: number;
  startDate?: string;
  stopDate?: string;
}

export interface MapRunRecord {
  stateName: string;
  mapRunId: string;
  mapRunArn: string;
  status: "RUNNING" | "SUCCEEDED" | "FAILED";
  redriveCount: number;
  children: MapRunChild[];
  resultWriterDetails?: { Bucket: string; Key: string };
  error?: { Error: string; Cause: string };
}

/** One event of an execution's log (the package does not export the type). */
export type EventLog =
  ReturnType<StateMachine["run"]>["eventLogs"] extends AsyncGenerator<infer E> ? E : never;

/** What each child execution runs with: the engine's overrides (Task bindings, retry pauses). */
export interface ChildRunOptions {
  taskResourceLocalHandlers?: Record<string, (input: unknown) => Promise<unknown>>;
  retryIntervalOverrides?: Record<string, number>;
}

export interface MapRunOptions {
  /** The Distributed Map as synthesized (definition.ts). */
  map: DistributedMapNote;
  /** The Map state's effective input (after its InputPath, as the engine hands it to the stand-in Task). */
  input: unknown;
  /** The parent execution. */
  execution: { arn: string; name: string };
  stateMachineArn: string;
  /** The client of the ItemReader's and ResultWriter's S3 (locally the embedded one). */
  s3: S3Client;
  /**
   * The bucket each bucket name of the definition stands for here (the synthesized work bucket → the
   * embedded one); a name not listed is used as it is. Calls are reported under the definition's name.
   */
  buckets?: Record<string, string>;
  child?: ChildRunOptions;
  /** A Map Run of an earlier attempt of this execution: redrive it instead of starting a new one. */
  previous?: MapRunRecord;
  /** Each call the state machine makes in AWS: StartExecution/RedriveExecution, GetObject, PutObject. */
  /** Each call the state machine itself makes in AWS (its role must allow it), as principal "StateMachine". */
  onAwsCall?: AwsCallListener;
  /** The Map Run once its children are known, before any runs. */
  onStart?: (record: MapRunRecord) => void;
  /** Each event of each child execution (retries, state changes). */
  onChildEvent?: (child: MapRunChild, event: EventLog) => void;
  /** Each child once it ends. */
  onChildSettled?: (child: MapRunChild) => void;
  /** The record once the Map Run ends, successfully or not (before a failure is thrown). */
  onRecord?: (record: MapRunRecord) => void;
}

/** AWS's default when MaxConcurrency is absent: "Step Functions runs 10,000 parallel child workflow executions". */
const DEFAULT_MAX_CONCURRENCY = 10_000;

/**
 * Runs (or redrives) one Map Run of a Distributed Map and returns the Map's output.
 * @throws StatesError States.ExceedToleratedFailureThreshold when more children failed than tolerated,
 *   States.ItemReaderFailed / States.ResultWriterFailed when S3 refuses; InvalidInputError on a Map
 *   field the local Map Run does not implement.
 */
export async function runMapRun(options: MapRunOptions): Promise<unknown> {
  const { map } = options;
  const state = map.state;
  const processor = (state["ItemProcessor"] ?? state["Iterator"]) as Asl;
  // "If the Map Run wasn't started in the original execution attempt of the parent workflow,
  // redriving the parent workflow starts the Map Run for the first time" (Redriving Map Runs).
  const record = options.previous ?? (await startMapRun(options, state));
  if (options.previous !== undefined) {
    // "A redriven parent workflow redrives all the unsuccessful states, including Distributed Map"
    // and the Map Run restarts "unsuccessful child workflow executions" (Redriving Map Runs): the
    // same Map Run, its items as first read, succeeded children kept as they are.
    record.redriveCount++;
    record.status = "RUNNING";
    delete record.error;
  }
  options.onStart?.(record);
  const tolerance = await toleranceOf(state, options.input);
  const total = record.children.length;
  const failedCount = () => record.children.filter((c) => c.status === "FAILED").length;
  const exceeded = () => thresholdExceeded(failedCount(), total, tolerance);

  // Every unsuccessful child, and every child never started, runs; in index order, as items are read.
  const queue = record.children.filter((c) => c.status !== "SUCCEEDED");
  const machines = new Map<string, StateMachine>();
  const machineFrom = (startAt: string) => {
    let machine = machines.get(startAt);
    if (machine === undefined) {
      // The item processor verbatim (Fail states included); a redriven child starts at its failed state.
      // Validated once from its own StartAt; a redrive's StartAt leaves the states before it unreachable.
      machine = stateMachine(
        { StartAt: startAt, States: processor.States },
        startAt === processor.StartAt ? { checkArn: false } : { noValidate: true },
      );
      machines.set(startAt, machine);
    }
    return machine;
  };
  // A child waiting for its redrive counts as pending, not failed ("pendingRedrive" in AWS's Map Run
  // counts), so the threshold judges this attempt; it keeps its failed state to restart from.
  for (const child of queue) {
    if (child.status === "FAILED") child.status = "PENDING";
  }
  const wasFailed = new Set(queue.filter((c) => c.failedState !== undefined).map((c) => c.index));
  let next = 0;
  const worker = async () => {
    // "Step Functions can continue to run child workflows in a Map Run even after the tolerated
    // failure threshold is exceeded, but before the Map Run fails" (Tolerated failure threshold):
    // running children finish; no new one starts once the threshold is exceeded.
    while (next < queue.length && !exceeded()) {
      const child = queue[next++]!;
      await runChild(child, wasFailed.has(child.index), machineFrom, options);
      options.onChildSettled?.(child);
    }
  };
  const maxConcurrency =
    map.maxConcurrency === undefined || map.maxConcurrency === 0
      ? DEFAULT_MAX_CONCURRENCY
      : map.maxConcurrency;
  await Promise.all(Array.from({ length: Math.min(maxConcurrency, Math.max(queue.length, 1)) }, worker));

  const failed = exceeded();
  record.status = failed ? "FAILED" : "SUCCEEDED";
  if (failed) {
    record.error = {
      Error: "States.ExceedToleratedFailureThreshold",
      Cause: `${failedCount()} of ${total} child executions failed, more than the tolerated ${describeTolerance(tolerance)}`,
    };
  }
  const writer = state["ResultWriter"] as { Parameters?: Record<string, unknown> } | undefined;
  try {
    if (writer !== undefined) record.resultWriterDetails = await writeResults(record, writer, options);
  } catch (error) {
    // The children's outcomes stand; a redrive writes the results again.
    record.status = "FAILED";
    record.error = { Error: (error as Error).name, Cause: (error as Error).message };
    options.onRecord?.(record);
    throw error;
  }
  options.onRecord?.(record);
  if (record.error !== undefined)
    throw new StatesError("States.ExceedToleratedFailureThreshold", record.error.Cause);
  if (record.resultWriterDetails !== undefined) {
    // "If you export the child workflow execution results, the Distributed Map state execution returns
    // the Map Run ARN and data about the Amazon S3 export location" (ResultWriter).
    return { MapRunArn: record.mapRunArn, ResultWriterDetails: record.resultWriterDetails };
  }
  return record.children.map((c) => (c.status === "SUCCEEDED" ? c.output : c.error));
}

async function startMapRun(options: MapRunOptions, state: AslState): Promise<MapRunRecord> {
  const items = await readItems(options, state);
  const mapRunId = randomUUID();
  const label = (state["Label"] as string | undefined) ?? options.map.stateName;
  const stateMachine = options.stateMachineArn.split(":").at(-1) ?? "local";
  const arnBase = options.stateMachineArn.replace(/:stateMachine:[^:]+$/, "");
  const selector = state["ItemSelector"] as Record<string, unknown> | undefined;
  const select = selector === undefined ? undefined : passState({ Parameters: selector });
  const children: MapRunChild[] = [];
  for (const [index, value] of items.entries()) {
    // ItemSelector sees the item as `$$.Map.Item.Value` and its position as `$$.Map.Item.Index`,
    // evaluated by the engine's own JSONPath.
    const input =
      select === undefined
        ? value
        : await select.run(options.input as never, {
            context: {
              Execution: { Id: options.execution.arn, Name: options.execution.name },
              Map: { Item: { Index: index, Value: value } },
            },
          }).result;
    const name = `${mapRunId.slice(0, 8)}-${String(index).padStart(6, "0")}`;
    children.push({
      index,
      name,
      // A child's ARN in AWS: execution:<state machine>/<Map Run label>:<child name>.
      executionArn: `${arnBase}:execution:${stateMachine}/${label}:${name}`,
      status: "PENDING",
      input,
      redriveCount: 0,
    });
  }
  return {
    stateName: options.map.stateName,
    mapRunId,
    mapRunArn: `${arnBase}:mapRun:${stateMachine}/${label}:${mapRunId}`,
    status: "RUNNING",
    redriveCount: 0,
    children,
  };
}

/** The threshold as the state sets it; neither field set means none tolerated. */
interface Tolerance {
  percentage?: number;
  count?: number;
}

async function toleranceOf(state: AslState, input: unknown): Promise<Tolerance> {
  const fromPath = async (field: string): Promise<number | undefined> => {
    const path = state[`${field}Path`];
    if (typeof path === "string") {
      const value = await passState({ InputPath: path }).run(input as never).result;
      if (typeof value !== "number") throw new InvalidInputError(`${field}Path does not select a number`);
      return value;
    }
    return state[field] as number | undefined;
  };
  const percentage = await fromPath("ToleratedFailurePercentage");
  const count = await fromPath("ToleratedFailureCount");
  return { ...(percentage !== undefined && { percentage }), ...(count !== undefined && { count }) };
}

/**
 * "Your Map Run fails automatically if it exceeds the threshold. If you specify both values, the
 * workflow fails when it exceeds either value." The percentage is "the total number of items that
 * failed or timed out divided by the total number of items"; "The default percentage value is zero,
 * which means that the workflow fails if any one of its child workflow executions fails or times out"
 * (AWS docs, Tolerated failure threshold for Distributed Map state).
 */
export function thresholdExceeded(failed: number, total: number, tolerance: Tolerance): boolean {
  if (failed === 0) return false;
  if (tolerance.percentage === undefined && tolerance.count === undefined) return true;
  if (tolerance.count !== undefined && failed > tolerance.count) return true;
  return tolerance.percentage !== undefined && (failed / total) * 100 > tolerance.percentage;
}

function describeTolerance(tolerance: Tolerance): string {
  const parts: string[] = [];
  if (tolerance.count !== undefined) parts.push(`${tolerance.count} failed`);
  if (tolerance.percentage !== undefined) parts.push(`${tolerance.percentage}%`);
  return parts.length === 0 ? "none" : parts.join(" or ");
}

async function runChild(
  child: MapRunChild,
  redrive: boolean,
  machineFrom: (startAt: string) => StateMachine,
  options: MapRunOptions,
): Promise<void> {
  const processor = (options.map.state["ItemProcessor"] ?? options.map.state["Iterator"]) as Asl;
  const from = redrive ? child.failedState : undefined;
  // "When you redrive an execution, it continues the failed execution from the unsuccessful step and
  // uses the same input. Step Functions preserves the results and execution history of the successful
  // steps" (RedriveExecution): a failed child restarts at its failed state with that state's input,
  // under the same execution ARN (so the same lease owner).
  options.onAwsCall?.(
    redrive
      ? {
          principal: STATE_MACHINE_PRINCIPAL,
          service: "states",
          command: "RedriveExecution",
          input: { executionArn: child.executionArn },
        }
      : {
          principal: STATE_MACHINE_PRINCIPAL,
          service: "states",
          command: "StartExecution",
          input: { stateMachineArn: options.stateMachineArn, name: child.name },
        },
  );
  if (redrive) child.redriveCount++;
  delete child.error;
  delete child.output;
  child.startDate ??= new Date().toISOString();
  const machine = machineFrom(from?.name ?? processor.StartAt);
  const execution = machine.run(
    (from === undefined ? child.input : from.input) as never,
    {
      overrides: options.child ?? {},
      context: { Execution: { Id: child.executionArn, Name: child.name } },
    } as never,
  );
  let entered: FailedState | undefined;
  const watching = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type === "StateEntered" && event.index === undefined) {
        entered = { name: event.state.name, input: event.state.input };
      }
      options.onChildEvent?.(child, event);
      if (
        event.type === "ExecutionSucceeded" ||
        event.type === "ExecutionFailed" ||
        event.type === "ExecutionAborted"
      ) {
        return;
      }
    }
  })();
  try {
    child.output = await execution.result;
    child.status = "SUCCEEDED";
    delete child.failedState;
  } catch (error) {
    await watching;
    const cause =
      error instanceof ExecutionError && error.cause instanceof Error ? error.cause : (error as Error);
    child.status = "FAILED";
    child.error = { Error: cause.name, Cause: cause.message };
    child.failedState = entered ?? { name: processor.StartAt, input: child.input };
  } finally {
    await watching;
    child.stopDate = new Date().toISOString();
  }
}
