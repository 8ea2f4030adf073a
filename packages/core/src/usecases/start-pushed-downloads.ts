import {
  type ExecutionListItem,
  type ExecutionStatus,
  ListExecutionsCommand,
  type SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import type { GranuleStore } from "../adapters/store/store";
import { DEFAULT_LOOKBACK_DAYS } from "../config/runtime";
import { parseDay } from "../domain/day";
import { InvalidInputError } from "../domain/errors";
import { leaseExpiredBetween } from "../domain/granule";
import { planWindow } from "./generate-queries";

/** How often the rule asks whether recorded granules wait: a pushed granule starts within a minute or two. */
export const PUSHED_DOWNLOADS_INTERVAL_MINUTES = 1;
/** The execution input of a pushed-granules run: no link fetching, download what is pending. */
export const PUSH_DOWNLOAD_INPUT = { downloadOnly: true } as const;
/** The execution input of the continuous mode's poll: search yesterday and today from the cursors. */
export const POLL_INPUT = { poll: true } as const;
/** The name prefix of every pushed-granules run, by which a running one is recognised. */
export const PUSH_DOWNLOAD_NAME_PREFIX = "pushed-";
/** The name prefix of the continuous mode's polls. */
export const POLL_NAME_PREFIX = "poll-";
/**
 * How far before the newest running pushed-granules run's start the next one's share begins: that run's
 * manifest was read after its start, so the overlap covers the index's lag ("Write operations propagate
 * to a GSI within 1 second") and clock skew between Lambda and Step Functions. A granule in both
 * manifests is downloaded once: the second child finds it claimed or downloaded.
 */
export const RECORDED_SINCE_OVERLAP_MS = 30_000;
/**
 * A pushed-granules run that ended abnormally this long before the newest running one started, or
 * later, may have left granules no running run holds: the next run takes every pending granule of the
 * window (no recordedSince). The margin covers ListExecutions' lag ("This operation is eventually
 * consistent"): a run started right after the death, by a firing that still listed the dead run as
 * running or not at all, may have taken only what came after it.
 */
export const ABNORMAL_END_MARGIN_MS = 2 * 60_000;
/** How a run ends without having downloaded its manifest: its granules wait for another run. */
const ABNORMAL_ENDS = ["FAILED", "TIMED_OUT", "ABORTED"] as const satisfies readonly ExecutionStatus[];

/** What a rule asks the starter for: a pushed-granules run (every minute) or a poll (continuous mode). */
export type ContinuousRunKind = "pushed" | "poll";

export interface StartPushedDownloadsDeps {
  store: Pick<GranuleStore, "listByStatus">;
  sfn: SFNClient;
  stateMachineArn: string;
}

export interface StartPushedDownloadsOptions {
  /** The clock; default the system clock. */
  now?: () => Date;
  /** The stage's LOOKBACK_DAYS: the download-only window is these days before today, and today. */
  lookbackDays?: number;
  /** Default "pushed". */
  kind?: ContinuousRunKind;
  /** Default RECORDED_SINCE_OVERLAP_MS (the local live day scales it with its clock). */
  overlapMs?: number;
  /** Default ABNORMAL_END_MARGIN_MS (a compressed clock may scale it too). */
  abnormalEndMarginMs?: number;
}

export type StartPushedDownloadsResult =
  | {
      started: true;
      executionName: string;
      executionArn: string;
      days: string[];
      recordedSince?: string;
      /** A pushed-granules run that ended abnormally: this run takes every pending granule of the window. */
      reconciles?: string;
    }
  | { started: false; reason: string; executionName?: string };

/**
 * The name of the run of the minute `now` falls in, e.g. `pushed-20261201T1505Z` (`poll-…` for a poll).
 * Deterministic per firing (EventBridge's `time` is the scheduled time), so two deliveries of one event
 * ("at least once") ask Step Functions for the same name, and at most one execution can exist for it.
 */
export function pushedDownloadsExecutionName(now: Date, kind: ContinuousRunKind = "pushed"): string {
  // Step Functions names may not contain ":" (StartExecution: "A name must not contain … special
  // characters " # % \ ^ | ~ ` $ & , ; : /").
  const stamp = now.toISOString().slice(0, 16).replace(/[-:]/g, "");
  return `${kind === "poll" ? POLL_NAME_PREFIX : PUSH_DOWNLOAD_NAME_PREFIX}${stamp}Z`;
}

/**
 * Starts a pushed-granules run (download-only) when recorded granules wait: some granule of the
 * download-only window (planWindow's, the very days its WriteManifest lists) is DISCOVERED, or
 * DOWNLOADING under an expired lease (its worker is gone). While pushed-granules runs are RUNNING, the
 * new run takes only what became pending since the newest of them started (less
 * RECORDED_SINCE_OVERLAP_MS: granules recorded, leases expired): that run's manifest holds the ones
 * before, so a granule recorded while earlier downloads run starts within a minute, and no granule is in
 * two manifests but for the overlap. Unless a pushed-granules run ended abnormally since (less
 * ABNORMAL_END_MARGIN_MS): its share is older than the newest run's, so the new run takes every pending
 * granule of the window, as a run beside none does. With kind "poll", starts the continuous mode's poll
 * of yesterday and today.
 * @throws InvalidInputError on a bad option; the SDK's errors but ExecutionAlreadyExists unchanged.
 */
export async function startPushedDownloads(
  deps: StartPushedDownloadsDeps,
  options: StartPushedDownloadsOptions = {},
): Promise<StartPushedDownloadsResult> {
  let { now, lookbackDays, kind, overlapMs, abnormalEndMarginMs } = options;
  now ??= () => new Date();
  lookbackDays ??= DEFAULT_LOOKBACK_DAYS;
  kind ??= "pushed";
  overlapMs ??= RECORDED_SINCE_OVERLAP_MS;
  abnormalEndMarginMs ??= ABNORMAL_END_MARGIN_MS;
  if (!Number.isFinite(overlapMs) || overlapMs < 0)
    throw new InvalidInputError(`options.overlapMs must be ≥ 0, got ${overlapMs}`, { field: "overlapMs" });
  if (!Number.isFinite(abnormalEndMarginMs) || abnormalEndMarginMs < 0)
    throw new InvalidInputError(`options.abnormalEndMarginMs must be ≥ 0, got ${abnormalEndMarginMs}`, {
      field: "abnormalEndMarginMs",
    });
  if (typeof now !== "function")
    throw new InvalidInputError("options.now must be a function", { field: "now" });
  if (kind !== "pushed" && kind !== "poll")
    throw new InvalidInputError(`options.kind must be pushed or poll, got ${kind}`, { field: "kind" });
  if (deps.stateMachineArn === "")
    throw new InvalidInputError("stateMachineArn is empty", { field: "stateMachineArn" });
  const at = now();
  if (kind === "poll") {
    const { days } = planWindow(POLL_INPUT, { today: at, lookbackDays });
    return startNamed(deps, pushedDownloadsExecutionName(at, "poll"), POLL_INPUT, days);
  }
  const { days } = planWindow(PUSH_DOWNLOAD_INPUT, { today: at, lookbackDays });

  // Newest day first and one item at most: pushes land on today's publication day, so a waiting
  // granule is usually found by the first shards' queries. A FAILED granule does not start a run: its
  // child retried already, and an outage must not spend its attempts a minute apart; every run that
  // takes the whole window (beside no running one, after an abnormal end, the daily run) lists it.
  if (!(await waitingIn(deps, days, at))) {
    return { started: false, reason: `no DISCOVERED or expired DOWNLOADING granule in ${days.join(", ")}` };
  }
  const running = await runningPushedDownloads(deps);
  let input: { downloadOnly: true; recordedSince?: string } = PUSH_DOWNLOAD_INPUT;
  if (running?.startDate !== undefined) {
    const dead = await endedAbnormallySince(
      deps,
      running.startDate.getTime() - abnormalEndMarginMs,
      parseDay(days[0]!)!,
    );
    if (dead !== undefined) {
      return startNamed(deps, pushedDownloadsExecutionName(at), input, days, dead.name);
    }
    const recordedSince = new Date(running.startDate.getTime() - overlapMs).toISOString();
    if (!(await waitingIn(deps, days, at, recordedSince))) {
      return {
        started: false,
        reason: `pushed-granules run ${running.name} holds every waiting granule`,
        ...(running.name !== undefined && { executionName: running.name }),
      };
    }
    input = { ...PUSH_DOWNLOAD_INPUT, recordedSince };
  }
  return startNamed(deps, pushedDownloadsExecutionName(at), input, days);
}

/**
 * Whether a granule of `days` waits for a run: DISCOVERED (recorded at or after `since`), or
 * DOWNLOADING with a lease that expired before `at` (at or after `since`).
 */
async function waitingIn(
  deps: StartPushedDownloadsDeps,
  days: readonly string[],
  at: Date,
  since?: string,
): Promise<boolean> {
  for (const day of [...days].reverse()) {
    const found = await deps.store.listByStatus(day, "DISCOVERED", {
      limit: 1,
      ...(since !== undefined && { createdSince: since }),
    });
    if (found.length > 0) return true;
  }
  const sinceMs = since === undefined ? Number.NEGATIVE_INFINITY : Date.parse(since);
  for (const day of [...days].reverse()) {
    // Few per day: the transfers running now and those whose worker died.
    const downloading = await deps.store.listByStatus(day, "DOWNLOADING");
    if (downloading.some((granule) => leaseExpiredBetween(granule, sinceMs, at.getTime()))) return true;
  }
  return false;
}

async function startNamed(
  deps: StartPushedDownloadsDeps,
  name: string,
  input: object,
  days: string[],
  reconciles?: string,
): Promise<StartPushedDownloadsResult> {
  try {
    const started = await deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deps.stateMachineArn,
        name,
        input: JSON.stringify(input),
      }),
    );
    // StartExecution with the name of an open execution and the same input answers Success with that
    // execution ("When the original execution is open and the execution input from the new call is
    // identical, the Success message is returned"), so a concurrent twin reports the same run: still one.
    const recordedSince = (input as { recordedSince?: string }).recordedSince;
    return {
      started: true,
      executionName: name,
      executionArn: started.executionArn ?? "",
      days,
      ...(recordedSince !== undefined && { recordedSince }),
      ...(reconciles !== undefined && { reconciles }),
    };
  } catch (error) {
    // "When the original execution is closed, the ExecutionAlreadyExists message is returned regardless
    // of input" (StartExecution, name), and so when it is open with another input (a redelivery that saw
    // another run list): this firing's run exists already; the next firing starts the next one.
    if (error instanceof Error && error.name === "ExecutionAlreadyExists") {
      return { started: false, reason: `this firing's run ${name} exists already`, executionName: name };
    }
    throw error;
  }
}

/** The first RUNNING execution of the state machine whose name marks it a pushed-granules run. */
async function runningPushedDownloads(
  deps: StartPushedDownloadsDeps,
): Promise<ExecutionListItem | undefined> {
  let nextToken: string | undefined;
  do {
    // ListExecutions' statusFilter: "If specified, only list the executions whose current execution
    // status matches the given filter" — the daily run and backfills show here too, hence the name.
    // "This operation is eventually consistent": a run started moments ago may be missing, which the
    // slot's deterministic name covers (StartExecution of that name cannot start a second one).
    const page = await deps.sfn.send(
      new ListExecutionsCommand({
        stateMachineArn: deps.stateMachineArn,
        statusFilter: "RUNNING",
        maxResults: 100,
        nextToken,
      }),
    );
    const found = page.executions?.find((execution) => execution.name?.startsWith(PUSH_DOWNLOAD_NAME_PREFIX));
    if (found !== undefined) return found;
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return undefined;
}

/**
 * The newest-ending pushed-granules run that ended abnormally (FAILED, TIMED_OUT, ABORTED) at or after
 * `sinceMs`, among those started on or after `startedFromMs` (the download-only window's first day: an
 * older run's leftovers are the daily run's). A list without a stopDate counts the start.
 */
async function endedAbnormallySince(
  deps: StartPushedDownloadsDeps,
  sinceMs: number,
  startedFromMs: number,
): Promise<ExecutionListItem | undefined> {
  let found: ExecutionListItem | undefined;
  const endOf = (execution: ExecutionListItem) => (execution.stopDate ?? execution.startDate)?.getTime() ?? 0;
  for (const status of ABNORMAL_ENDS) {
    let nextToken: string | undefined;
    do {
      // Newest start first: the scan ends at the first run started before the window.
      const page = await deps.sfn.send(
        new ListExecutionsCommand({
          stateMachineArn: deps.stateMachineArn,
          statusFilter: status,
          maxResults: 1000,
          nextToken,
        }),
      );
      const executions = page.executions ?? [];
      for (const execution of executions) {
        if (!execution.name?.startsWith(PUSH_DOWNLOAD_NAME_PREFIX)) continue;
        if (endOf(execution) >= sinceMs && (found === undefined || endOf(execution) > endOf(found))) {
          found = execution;
        }
      }
      const oldest = executions.at(-1)?.startDate?.getTime();
      nextToken = oldest !== undefined && oldest < startedFromMs ? undefined : page.nextToken;
    } while (nextToken !== undefined);
  }
  return found;
}
