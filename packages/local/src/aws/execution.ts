import "./polyfills";
import type { S3Client } from "@aws-sdk/client-s3";
import { ExecutionError } from "aws-local-stepfunctions";
import { StatesError } from "../errors";
import type { AwsCallListener } from "./aws-calls";
import type { DistributedMapNote, LocalDefinition } from "./definition";
import { type LocalExecutionRecord, saveExecutionRecord } from "./executions";
import { isLambdaError } from "./lambda";
import type { TaskBinding } from "./lambda-tasks";
import { type EventLog, type FailedState, type MapRunChild, type MapRunRecord, runMapRun } from "./map-run";
import { stateMachine } from "./state-machine";

/** The placeholder ARN of the local state machine (the Distributed Map's children run "on" it). */
export const LOCAL_STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:local";

/** The ARN of the local state machine's execution named `name`. */
export function executionArnOf(name: string): string {
  return `arn:aws:states:us-east-1:123456789012:execution:local:${name}`;
}

/** What a caller sees of an execution while it runs. */
export interface ExecutionListener {
  /** A top-level state was entered (a Map Run child's states are not reported). */
  onStateEntered?: (name: string) => void;
  /** A Retry fired, at the top level or in a Map Run child. */
  onRetry?: () => void;
  /** A Map Run listed its children, before any runs (a redrive's list holds the SUCCEEDED ones too). */
  onMapRunStart?: (record: MapRunRecord) => void;
  /** A Map Run child ended. */
  onChildSettled?: (child: MapRunChild) => void;
}

/**
 * Runs one execution of the adapted definition with every Task bound in-process and each Distributed
 * Map run by the local Map Run, or redrives a FAILED one; its record is saved in the data folder as it
 * starts and ends. Returns the execution's output, or undefined when a Map Run failed it beyond its
 * tolerated failures (an outcome, as in AWS: the record says FAILED).
 * @throws whatever failed the execution outside a Map Run, unwrapped to the handler's own error.
 */
export async function runExecution(args: {
  local: LocalDefinition;
  /** A new execution's record (RUNNING), or the FAILED one to redrive. */
  record: LocalExecutionRecord;
  redrive: boolean;
  dataDir: string;
  /** Every Task state bound to its handler (lambda-tasks.ts); the Map Run's children use them too. */
  tasks: Record<string, TaskBinding>;
  /** The S3 of the Map Runs' ItemReader and ResultWriter. */
  s3: S3Client;
  /** The local bucket standing for each bucket the definition names. */
  buckets: Record<string, string>;
  /** Every Retry's interval here, in ms (the synthesized ones are seconds to minutes). */
  retryIntervalMs: number;
  onAwsCall?: AwsCallListener;
  listener?: ExecutionListener;
}): Promise<unknown> {
  const { local, record, dataDir, tasks, listener = {} } = args;
  // "Redriven executions use the same state machine definition and execution ARN as the original
  // execution attempt" and continue "from the unsuccessful step" with its input (RedriveExecution).
  // One difference: AWS redrives only the failed iterations of an inline Map (FetchLinks); here that
  // state restarts whole, which FetchPage tolerates (it resumes each query from its stored offset).
  const restartAt: FailedState | undefined = args.redrive ? record.failedState : undefined;
  if (args.redrive) {
    record.redriveCount++;
    record.redriveDate = new Date().toISOString();
    record.status = "RUNNING";
    delete record.error;
    delete record.failedState;
    delete record.stopDate;
  }
  await saveExecutionRecord(dataDir, record);

  const retryIntervalOverrides: Record<string, number> = {};
  for (const name of local.taskStates) retryIntervalOverrides[name] = args.retryIntervalMs;
  for (const map of local.distributedMaps) retryIntervalOverrides[map.stateName] = args.retryIntervalMs;

  const mapRun =
    (map: DistributedMapNote): TaskBinding =>
    (mapInput) =>
      runMapRun({
        map,
        input: mapInput,
        execution: { arn: record.executionArn, name: record.name },
        stateMachineArn: LOCAL_STATE_MACHINE_ARN,
        s3: args.s3,
        buckets: args.buckets,
        child: { taskResourceLocalHandlers: tasks as never, retryIntervalOverrides },
        previous: record.mapRuns[map.stateName],
        onAwsCall: args.onAwsCall,
        onStart: (mapRecord) => listener.onMapRunStart?.(mapRecord),
        onChildEvent: (_child, event: EventLog) => {
          if (event.type === "StateRetried") listener.onRetry?.();
        },
        onChildSettled: (child) => listener.onChildSettled?.(child),
        onRecord: (mapRecord) => {
          record.mapRuns[map.stateName] = mapRecord;
        },
      });
  const bindings: Record<string, TaskBinding> = { ...tasks };
  for (const map of local.distributedMaps) bindings[map.stateName] = mapRun(map);

  // A redrive starts at the failed state: the states before it are not reachable from there, and
  // the definition was validated from its own StartAt on the first run.
  const machine = stateMachine(
    { ...local.definition, StartAt: restartAt?.name ?? local.definition.StartAt },
    restartAt === undefined ? { checkArn: false } : { noValidate: true },
  );
  const execution = machine.run((restartAt === undefined ? record.input : restartAt.input) as never, {
    overrides: { taskResourceLocalHandlers: bindings as never, retryIntervalOverrides },
    context: { Execution: { Id: record.executionArn, Name: record.name } },
  });
  let entered: FailedState | undefined;
  const watching = watchEvents(execution.eventLogs, (event) => {
    if (event.type === "StateEntered" && event.index === undefined) {
      entered = { name: event.state.name, input: event.state.input };
      listener.onStateEntered?.(event.state.name);
    } else if (event.type === "StateRetried") {
      listener.onRetry?.();
    }
  });
  let output: unknown;
  let failure: unknown;
  try {
    output = await execution.result;
    record.status = "SUCCEEDED";
  } catch (error) {
    await watching;
    failure = originalError(error);
    record.status = "FAILED";
    record.failedState = entered ?? { name: local.definition.StartAt, input: record.input };
    record.error = {
      name: failure instanceof Error ? failure.name : "Error",
      message: failure instanceof Error ? failure.message : String(failure),
    };
  } finally {
    await watching;
    record.stopDate = new Date().toISOString();
    await saveExecutionRecord(dataDir, record);
  }
  // A Map Run beyond its tolerated failures is an outcome the caller reports (the execution FAILED,
  // as in AWS); any other failure propagates with its own name.
  const failedInMap = local.distributedMaps.some((map) => map.stateName === record.failedState?.name);
  if (failure !== undefined && !(failedInMap && failure instanceof StatesError)) throw failure;
  return output;
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

/** The engine wraps a failed execution's error (ExecutionError → our Lambda error → the handler's): unwrap to the handler's, e.g. HubAuthError. */
function originalError(error: unknown): unknown {
  let current = error;
  while (current instanceof Error && (current instanceof ExecutionError || isLambdaError(current))) {
    if (current.cause === undefined) break;
    current = current.cause;
  }
  return current;
}
