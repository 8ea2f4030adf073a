import {
  type ExecutionListItem,
  ListExecutionsCommand,
  type SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import type { GranuleStore } from "../adapters/store/store";
import { DEFAULT_LOOKBACK_DAYS } from "../config/runtime";
import { InvalidInputError } from "../domain/errors";
import { planWindow } from "./generate-queries";

/** How often the rule asks whether pushed granules wait: the "within 5 minutes". */
export const PUSHED_DOWNLOADS_INTERVAL_MINUTES = 5;
/** The execution input of a pushed-granules run: no link fetching, download what is pending. */
export const PUSH_DOWNLOAD_INPUT = { downloadOnly: true } as const;
/** The name prefix of every pushed-granules run, by which a running one is recognised. */
export const PUSH_DOWNLOAD_NAME_PREFIX = "pushed-";

const INTERVAL_MS = PUSHED_DOWNLOADS_INTERVAL_MINUTES * 60_000;

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
}

export type StartPushedDownloadsResult =
  | { started: true; executionName: string; executionArn: string; days: string[] }
  | { started: false; reason: string; executionName?: string };

/**
 * The name of the pushed-granules run of the 5-minute slot `now` falls in, e.g. `pushed-20261201T1505Z`.
 * Deterministic per slot, so two invocations of one slot (EventBridge delivers "at least once") ask
 * Step Functions for the same name, and at most one execution can exist for it.
 */
export function pushedDownloadsExecutionName(now: Date): string {
  const slot = new Date(Math.floor(now.getTime() / INTERVAL_MS) * INTERVAL_MS);
  // Step Functions names may not contain ":" (StartExecution: "A name must not contain … special
  // characters " # % \ ^ | ~ ` $ & , ; : /").
  const stamp = slot.toISOString().slice(0, 16).replace(/[-:]/g, "");
  return `${PUSH_DOWNLOAD_NAME_PREFIX}${stamp}Z`;
}

/**
 * Starts a download-only execution when pushed granules wait: some granule of the download-only
 * window (planWindow's, the very days its WriteManifest lists) is DISCOVERED, and no pushed-granules
 * run is RUNNING (which would download it: a granule recorded after its manifest waits for the next slot).
 * @throws InvalidInputError on a bad option; the SDK's errors but ExecutionAlreadyExists unchanged.
 */
export async function startPushedDownloads(
  deps: StartPushedDownloadsDeps,
  options: StartPushedDownloadsOptions = {},
): Promise<StartPushedDownloadsResult> {
  let { now, lookbackDays } = options;
  now ??= () => new Date();
  lookbackDays ??= DEFAULT_LOOKBACK_DAYS;
  if (typeof now !== "function")
    throw new InvalidInputError("options.now must be a function", { field: "now" });
  if (deps.stateMachineArn === "")
    throw new InvalidInputError("stateMachineArn is empty", { field: "stateMachineArn" });
  const at = now();
  const { days } = planWindow(PUSH_DOWNLOAD_INPUT, { today: at, lookbackDays });

  // Newest day first and one item at most: pushes land on today's publication day, so a waiting
  // granule is usually found by the first shards' queries (DISCOVERED only: a FAILED granule waits for the daily run).
  let pending = false;
  for (const day of [...days].reverse()) {
    if ((await deps.store.listByStatus(day, "DISCOVERED", { limit: 1 })).length > 0) {
      pending = true;
      break;
    }
  }
  if (!pending) return { started: false, reason: `no DISCOVERED granule in ${days.join(", ")}` };

  const running = await runningPushedDownloads(deps);
  if (running !== undefined) {
    return {
      started: false,
      reason: `pushed-granules run ${running.name} is running`,
      ...(running.name !== undefined && { executionName: running.name }),
    };
  }

  const name = pushedDownloadsExecutionName(at);
  try {
    const started = await deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deps.stateMachineArn,
        name,
        input: JSON.stringify(PUSH_DOWNLOAD_INPUT),
      }),
    );
    // StartExecution with the name of an open execution and the same input answers Success with that
    // execution ("When the original execution is open and the execution input from the new call is
    // identical, the Success message is returned"), so a concurrent twin reports the same run: still one.
    return { started: true, executionName: name, executionArn: started.executionArn ?? "", days };
  } catch (error) {
    // "When the original execution is closed, the ExecutionAlreadyExists message is returned regardless
    // of input" (StartExecution, name): this slot's run already ran; the next slot starts the next one.
    if (error instanceof Error && error.name === "ExecutionAlreadyExists") {
      return { started: false, reason: `this slot's run ${name} already ran`, executionName: name };
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
