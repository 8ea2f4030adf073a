import { type DescribeExecutionCommandOutput, RedriveExecutionCommand } from "@aws-sdk/client-sfn";
import { DEFAULT_LOOKBACK_DAYS } from "@hls-s2/core/config";
import { DAY_MS, isValidDay } from "@hls-s2/core/domain";
import { InvalidInputError } from "@hls-s2/core/errors";
import { planWindow, type WindowInput } from "@hls-s2/core/usecases";
import type { LocalRunSummary } from "@hls-s2/local";
import { describeExecution, listExecutions, type SfnTarget, toIso } from "../executions";

/** The only statuses RedriveExecution accepts. */
export const REDRIVABLE_STATUSES = ["FAILED", "TIMED_OUT", "ABORTED"] as const;

/** Step Functions redrives an execution up to 14 days after it stopped. */
const REDRIVE_WINDOW_MS = 14 * DAY_MS;

export interface RedriveInput {
  executionArn?: string;
  day?: string;
}

export interface RedriveResult {
  redriven: { executionArn: string; name: string; status: string; redriveDate?: string }[];
  skipped: { executionArn: string; name: string; status: string; reason: string }[];
}

export interface RedriveDeps {
  sfn: SfnTarget;
  /** Look-back days of the stage: the window of an execution started with `{}` (default 1). */
  lookbackDays?: number;
  now?: Date;
}

/**
 * Redrives failed, timed-out or aborted executions — one by ARN, or those whose window covers a
 * day — so Step Functions reruns only their failed steps and failed granules' child executions;
 * every other execution is skipped with the reason.
 * @throws InvalidInputError unless exactly one of executionArn and day is given, or on a bad day.
 */
export async function redrive(input: RedriveInput, deps: RedriveDeps): Promise<RedriveResult> {
  const now = deps.now ?? new Date();
  const lookbackDays = deps.lookbackDays ?? DEFAULT_LOOKBACK_DAYS;
  if ((input.executionArn === undefined) === (input.day === undefined)) {
    throw new InvalidInputError("redrive needs exactly one of --execution ARN or --day D", {
      field: "execution",
    });
  }
  const result: RedriveResult = { redriven: [], skipped: [] };
  if (input.executionArn !== undefined) {
    if (!input.executionArn.startsWith("arn:")) {
      throw new InvalidInputError(`--execution must be an execution ARN, got ${input.executionArn}`, {
        field: "execution",
      });
    }
    await redriveOne(await describeExecution(deps.sfn, input.executionArn), deps.sfn, now, result);
    return result;
  }

  const day = input.day!;
  if (!isValidDay(day)) {
    throw new InvalidInputError(`--day must be a real YYYY-MM-DD day, got ${day}`, { field: "day" });
  }
  const dayStartMs = Date.parse(`${day}T00:00:00.000Z`);
  // An execution covers days before the day it started, so anything that started before the day
  // cannot cover it; ListExecutions is newest first, so listing stops there.
  const executions = await listExecutions(deps.sfn, {
    limit: 1000,
    keep: (execution) => (execution.startDate?.getTime() ?? 0) >= dayStartMs,
  });
  for (const listed of executions) {
    const described = await describeExecution(deps.sfn, listed.executionArn!);
    if (!covers(described, day, lookbackDays)) continue;
    await redriveOne(described, deps.sfn, now, result);
  }
  return result;
}

/** Whether an execution's window (its input, or the scheduled default before its start) includes `day`. */
function covers(execution: DescribeExecutionCommandOutput, day: string, lookbackDays: number): boolean {
  let input: WindowInput;
  try {
    input = JSON.parse(execution.input ?? "{}") as WindowInput;
  } catch {
    return false;
  }
  try {
    const plan = planWindow(input, { today: execution.startDate ?? new Date(), lookbackDays });
    return plan.days.includes(day);
  } catch {
    // An input GenerateQueries rejected covers no day.
    return false;
  }
}

async function redriveOne(
  execution: DescribeExecutionCommandOutput,
  sfn: SfnTarget,
  now: Date,
  result: RedriveResult,
): Promise<void> {
  const executionArn = execution.executionArn ?? "";
  const name = execution.name ?? executionArn;
  const status = execution.status ?? "UNKNOWN";
  const skip = (reason: string) => result.skipped.push({ executionArn, name, status, reason });
  if (!(REDRIVABLE_STATUSES as readonly string[]).includes(status)) {
    skip(
      status === "SUCCEEDED"
        ? "SUCCEEDED: nothing to redrive (its FAILED granules, if any, go back with `requeue --day`)"
        : `${status}: only ${REDRIVABLE_STATUSES.join(", ")} executions can be redriven`,
    );
    return;
  }
  if (execution.redriveStatus === "NOT_REDRIVABLE") {
    skip(`not redrivable: ${execution.redriveStatusReason ?? "Step Functions refuses it"}`);
    return;
  }
  const stoppedMs = execution.stopDate?.getTime();
  if (stoppedMs !== undefined && now.getTime() - stoppedMs > REDRIVE_WINDOW_MS) {
    skip("stopped more than 14 days ago: start a backfill of its window instead");
    return;
  }
  try {
    const redriven = await sfn.client.send(new RedriveExecutionCommand({ executionArn }));
    result.redriven.push({ executionArn, name, status, redriveDate: toIso(redriven.redriveDate) });
  } catch (error) {
    // Its state changed since DescribeExecution (e.g. someone redrove it from the console).
    if (error instanceof Error && error.name === "ExecutionNotRedrivable") {
      skip(`not redrivable: ${error.message}`);
      return;
    }
    throw error;
  }
}

export interface LocalRedriveInput {
  /** A local execution's name (npm run local prints it); default the folder's newest FAILED one. */
  execution?: string;
  day?: string;
}

/**
 * Redrives a FAILED local-mode execution in-process with AWS's semantics (the local runner restarts it
 * at its failed state; its Map Run re-runs only the children that did not succeed).
 * @throws InvalidInputError for --day (local executions are picked by name) or an ARN given as name;
 *   StatesError ExecutionDoesNotExist / ExecutionNotRedrivable from the runner.
 */
export async function redriveLocalExecution(
  input: LocalRedriveInput,
  deps: { redrive: (input: { executionName?: string }) => Promise<LocalRunSummary> },
): Promise<LocalRunSummary> {
  if (input.day !== undefined) {
    throw new InvalidInputError(
      "locally, redrive takes --execution NAME (default the newest FAILED), not --day",
      {
        field: "day",
      },
    );
  }
  if (input.execution?.startsWith("arn:") === true) {
    throw new InvalidInputError(`--execution takes a local execution name, got the ARN ${input.execution}`, {
      field: "execution",
    });
  }
  return deps.redrive(input.execution === undefined ? {} : { executionName: input.execution });
}
