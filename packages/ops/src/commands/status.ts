import { type DayLatency, latencyByDay, type WindowSummary } from "@hls-s2/core/domain";
import type { GranuleStore, SlotPool, SlotUsage } from "@hls-s2/core/store";
import { measureUnfinishedAge, planWindow, summarizeWindow, type UnfinishedAge } from "@hls-s2/core/usecases";
import { type ExecutionRow, listExecutions, type SfnTarget, toRow } from "../executions";

/** The window's granules no download holds: what the next download run (or a free hub slot) picks up. */
export interface WaitingGranules {
  /** DISCOVERED: recorded (searched, pushed or requeued), not downloaded yet. */
  discovered: number;
  /** DOWNLOADING under an expired lease: their worker is gone; a requeue or the next run takes them. */
  stuck: number;
  /** discovered + stuck. */
  total: number;
  /** DOWNLOADING under a live lease: in progress now, each holding a hub slot. */
  downloading: number;
}

/** Core's window tally (found = recorded + filtered, recorded = downloaded + failed + pending + duplicates + missing) and more. */
export interface StatusReport extends WindowSummary {
  /** Publication → verified-object latency (p50/p95/max) of each day's DOWNLOADED granules. */
  latency: DayLatency[];
  /** The latest executions, newest first; null where there are none to list (local mode). */
  executions: ExecutionRow[] | null;
  /** Granules of the window waiting for a download. */
  waiting: WaitingGranules;
  /** The hub quota in force and the slots held now, across every execution (when a slot pool is given). */
  slots?: SlotUsage;
  /** The age safety net, as Summarize and the age report publish it: recent days, whatever the window. */
  unfinishedAge: UnfinishedAge;
}

export interface StatusInput {
  day?: string;
  from?: string;
  to?: string;
}

export interface StatusDeps {
  store: Pick<GranuleStore, "listByStatus" | "getFetchProgress">;
  sfn?: SfnTarget;
  /** The stage's hub slots: the quota is the stage's, not the window's. */
  slots?: Pick<SlotPool, "usage">;
  today?: Date;
  now?: Date;
  /** How many of the latest executions to show (default 10). */
  executions?: number;
  /** The stage's RECONCILIATION_HORIZON_DAYS and UNFINISHED_AGE_ALARM_HOURS; default core's defaults. */
  horizonDays?: number;
  unfinishedAgeAlarmHours?: number;
}

/**
 * Per day and platform of a window (default yesterday, UTC): what the table holds by outcome,
 * failures by error name, bytes, and what the hub reported; the granules waiting for a download, the
 * hub slots in use, the latest executions, and the unfinished granules of recent days by age.
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
  const { counts, stuck } = summary.totals;
  const waiting: WaitingGranules = {
    discovered: counts.DISCOVERED,
    stuck,
    total: counts.DISCOVERED + stuck,
    downloading: counts.DOWNLOADING - stuck,
  };
  const slots = deps.slots === undefined ? undefined : await deps.slots.usage();
  const unfinishedAge = await measureUnfinishedAge(
    { store: deps.store },
    { horizonDays: deps.horizonDays, thresholdHours: deps.unfinishedAgeAlarmHours, now: () => now },
  );
  return { ...summary, latency, executions, waiting, ...(slots !== undefined && { slots }), unfinishedAge };
}
