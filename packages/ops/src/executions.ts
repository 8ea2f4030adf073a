import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  type ExecutionListItem,
  ListExecutionsCommand,
  type SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import type { Platform } from "@hls-s2/core/domain";
import type { LocalRunSummary } from "@hls-s2/local";

/** A deployed stage's state machine and the client that reaches it. */
export interface SfnTarget {
  client: SFNClient;
  stateMachineArn: string;
  region: string;
}

/** What the CLI starts an execution with (the flow contract's execution input). */
export interface ExecutionInput {
  from: string;
  to: string;
  platforms?: Platform[];
  downloadOnly?: boolean;
}

export type Launched =
  | { mode: "aws"; executionArn: string; executionName: string; consoleUrl: string; startDate: string }
  | { mode: "local"; executionName: string; summary: LocalRunSummary };

/** Starts one execution of the workflow: StartExecution on AWS, a run of the local runner locally. */
export type Launcher = (input: ExecutionInput, options?: { reason?: string }) => Promise<Launched>;

/** One row of the latest executions. */
export interface ExecutionRow {
  executionArn: string;
  name: string;
  status: string;
  startDate?: string;
  stopDate?: string;
  redriveCount?: number;
}

/** The Step Functions console page of an execution (its graph, history and map runs). */
export function consoleUrl(region: string, executionArn: string): string {
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

/** An execution name that says who started it and for which window; names are unique per state machine for 90 days. */
export function executionName(reason: string, input: ExecutionInput, now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const window = input.from === input.to ? input.from : `${input.from}_${input.to}`;
  // Step Functions allows 80 characters of [A-Za-z0-9-_].
  return `ops-${reason}-${window}-${stamp}`.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 80);
}

/** The execution input exactly as the state machine reads it: absent keys stay absent. */
export function executionInputJson(input: ExecutionInput): string {
  return JSON.stringify({
    from: input.from,
    to: input.to,
    ...(input.platforms !== undefined && { platforms: input.platforms }),
    ...(input.downloadOnly === true && { downloadOnly: true }),
  });
}

/** A Launcher that calls StartExecution on the stage's state machine. */
export function sfnLauncher(target: SfnTarget, options: { now?: () => Date } = {}): Launcher {
  let { now } = options;
  now ??= () => new Date();
  return async (input, launchOptions = {}) => {
    const name = executionName(launchOptions.reason ?? "run", input, now());
    const started = await target.client.send(
      new StartExecutionCommand({
        stateMachineArn: target.stateMachineArn,
        name,
        input: executionInputJson(input),
      }),
    );
    const executionArn = started.executionArn!;
    return {
      mode: "aws",
      executionArn,
      executionName: name,
      consoleUrl: consoleUrl(target.region, executionArn),
      startDate: toIso(started.startDate) ?? now().toISOString(),
    };
  };
}

/** The state machine's executions, newest first, while `keep` says yes and up to `limit`. */
export async function listExecutions(
  target: SfnTarget,
  options: { limit?: number; keep?: (execution: ExecutionListItem) => boolean } = {},
): Promise<ExecutionListItem[]> {
  let { limit, keep } = options;
  limit ??= 10;
  keep ??= () => true;
  const found: ExecutionListItem[] = [];
  let nextToken: string | undefined;
  do {
    const page = await target.client.send(
      new ListExecutionsCommand({
        stateMachineArn: target.stateMachineArn,
        maxResults: Math.min(100, limit - found.length),
        nextToken,
      }),
    );
    for (const execution of page.executions ?? []) {
      // ListExecutions is newest first: once `keep` says no, older ones would too.
      if (!keep(execution)) return found;
      found.push(execution);
      if (found.length >= limit) return found;
    }
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return found;
}

export function toRow(execution: ExecutionListItem | DescribeExecutionCommandOutput): ExecutionRow {
  return {
    executionArn: execution.executionArn ?? "",
    name: execution.name ?? "",
    status: execution.status ?? "UNKNOWN",
    ...(execution.startDate !== undefined && { startDate: toIso(execution.startDate) }),
    ...(execution.stopDate !== undefined && { stopDate: toIso(execution.stopDate) }),
    ...(execution.redriveCount !== undefined && { redriveCount: execution.redriveCount }),
  };
}

export async function describeExecution(
  target: SfnTarget,
  executionArn: string,
): Promise<DescribeExecutionCommandOutput> {
  return target.client.send(new DescribeExecutionCommand({ executionArn }));
}

export function toIso(date: Date | string | undefined): string | undefined {
  if (date === undefined) return undefined;
  return new Date(date).toISOString();
}
