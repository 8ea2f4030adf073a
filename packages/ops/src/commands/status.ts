import {
  type DayLatency,
  type GranuleStore,
  latencyByDay,
  planWindow,
  summarizeWindow,
  type WindowSummary,
} from "@hls-s2/core";
import { type ExecutionRow, listExecutions, type SfnTarget, toRow } from "../executions";

/** Core's window tally (found = recorded + filtered, recorded = downloaded + failed + pending + missing) and more. */
export interface StatusReport extends WindowSummary {
  /** Publication → verified-object latency (p50/p95/max) of each day's DOWNLOADED granules. */
  latency: DayLatency[];
  /** The latest executions, newest first; null where there are none to list (local mode). */
  executions: ExecutionRow[] | null;
}

export interface StatusInput {
  day?: string;
  from?: string;
  to?: string;
}

export interface StatusDeps {
  store: Pick<GranuleStore, "listByStatus" | "getFetchProgress">;
  sfn?: SfnTarget;
  today?: Date;
  now?: Date;
  /** How many of the latest executions to show (default 10). */
  executions?: number;
}

/**
 * Per day and platform of a window (default yesterday, UTC): what the table holds by outcome,
 * failures by error name, bytes, and what the hub reported; plus the latest executions.
 * @throws InvalidInputError on a bad day or window (the backfill rules).
 */
export async function status(input: StatusInput, deps: StatusDeps): Promise<StatusReport> {
  const now = deps.now ?? new Date();
  const plan = planWindow(
    input.day !== undefined ? { from: input.day, to: input.day } : { from: input.from, to: input.to },
    { today: deps.today ?? new Date() },
  );
  const summary = await summarizeWindow({ from: plan.from, to: plan.to }, { store: deps.store }, { now });
  let executions: ExecutionRow[] | null = null;
  if (deps.sfn !== undefined) {
    executions = (await listExecutions(deps.sfn, { limit: deps.executions ?? 10 })).map(toRow);
  }
  const latency = await latencyByDay(plan.days, { store: deps.store });
  return { ...summary, latency, executions };
}
