import { type GranuleStore, InvalidInputError, isValidDay } from "@hls-s2/core";
import type { ExecutionInput, Launched, Launcher } from "../executions";

export interface RequeueCandidate {
  granuleId: string;
  name: string;
  platform: string;
  status: "FAILED" | "DOWNLOADING";
  attempts: number;
  lastError?: { name: string; message: string };
  /** DOWNLOADING only: when its (expired) lease ended. */
  leaseExpiredAt?: string;
}

export interface RequeueResult {
  day: string;
  dryRun: boolean;
  candidates: RequeueCandidate[];
  /** Ids now DISCOVERED again. */
  requeued: string[];
  /** Candidates that changed under us (e.g. a worker finished them meanwhile). */
  skipped: { granuleId: string; status: string }[];
  /** The download-only run started for the day; absent on a dry run or when nothing was requeued. */
  execution?: Launched;
  executionInput?: ExecutionInput;
}

export interface RequeueDeps {
  store: Pick<GranuleStore, "listByStatus" | "requeueGranule">;
  /** Needed unless dryRun. */
  launch?: Launcher;
  now?: Date;
}

/**
 * Puts a day's FAILED granules and its DOWNLOADING granules whose lease expired back to DISCOVERED
 * (attempts reset) and starts one download-only execution for the day; a dry run only lists them.
 * @throws InvalidInputError on a bad day.
 */
export async function requeue(
  input: { day: string; dryRun?: boolean },
  deps: RequeueDeps,
): Promise<RequeueResult> {
  const { day } = input;
  const dryRun = input.dryRun === true;
  if (typeof day !== "string" || !isValidDay(day)) {
    throw new InvalidInputError(`--day must be a real YYYY-MM-DD day, got ${String(day)}`, { field: "day" });
  }
  if (!dryRun && deps.launch === undefined) {
    throw new InvalidInputError("requeue needs a way to start the download run", { field: "launch" });
  }
  const nowMs = (deps.now ?? new Date()).getTime();
  const [failed, downloading] = await Promise.all([
    deps.store.listByStatus(day, "FAILED"),
    deps.store.listByStatus(day, "DOWNLOADING"),
  ]);
  const candidates: RequeueCandidate[] = [
    ...failed.map((g) => ({
      granuleId: g.granuleId,
      name: g.name,
      platform: g.platform,
      status: "FAILED" as const,
      attempts: g.attempts,
      ...(g.lastError !== undefined && { lastError: g.lastError }),
    })),
    // A live lease is a worker still downloading: never pull a granule from under it.
    ...downloading
      .filter((g) => (g.leaseExpiresAt ?? 0) < nowMs)
      .map((g) => ({
        granuleId: g.granuleId,
        name: g.name,
        platform: g.platform,
        status: "DOWNLOADING" as const,
        attempts: g.attempts,
        leaseExpiredAt: new Date(g.leaseExpiresAt ?? 0).toISOString(),
      })),
  ];
  const result: RequeueResult = { day, dryRun, candidates, requeued: [], skipped: [] };
  if (dryRun) return result;

  for (const candidate of candidates) {
    const { requeued, granule } = await deps.store.requeueGranule(candidate.granuleId);
    if (requeued) result.requeued.push(candidate.granuleId);
    else result.skipped.push({ granuleId: candidate.granuleId, status: granule.status });
  }
  if (result.requeued.length > 0) {
    // Download-only: the day's links are already in the table; searching the hub again is wasted.
    result.executionInput = { from: day, to: day, downloadOnly: true };
    result.execution = await deps.launch!(result.executionInput, { reason: "requeue" });
  }
  return result;
}
