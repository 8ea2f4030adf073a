import { isValidDay } from "@hls-s2/core/domain";
import { InvalidInputError } from "@hls-s2/core/errors";
import type { GranuleStore } from "@hls-s2/core/store";
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

/** A granule whose outcome only an operator can settle: its object may exist. */
export interface HeldGranule {
  granuleId: string;
  name: string;
  /** The object key its unknown Complete was for. */
  key?: string;
  /** How to confirm the object is missing first, and the command that then requeues it. */
  advice: string;
}

export interface RequeueResult {
  day: string;
  dryRun: boolean;
  candidates: RequeueCandidate[];
  /**
   * FAILED with UploadOutcomeUnknownError and not named: never requeued by `--day` alone, since its
   * object may exist (a second upload would start a second HLS processing run).
   */
  held: HeldGranule[];
  /** Ids now DISCOVERED again. */
  requeued: string[];
  /** Candidates that changed under us (e.g. a worker finished them meanwhile). */
  skipped: { granuleId: string; status: string }[];
  /** The download-only run started for the day; absent on a dry run or when nothing was requeued. */
  execution?: Launched;
  executionInput?: ExecutionInput;
}

/** The error whose granule `--day` alone never requeues. */
const OUTCOME_UNKNOWN = "UploadOutcomeUnknownError";

export interface RequeueDeps {
  store: Pick<GranuleStore, "listByStatus" | "requeueGranule">;
  /** Needed unless dryRun. */
  launch?: Launcher;
  now?: Date;
}

/**
 * Puts a day's FAILED granules and its DOWNLOADING granules whose lease expired back to DISCOVERED
 * (attempts reset) and starts one download-only execution for the day; a dry run only lists them.
 * A granule FAILED with UploadOutcomeUnknownError is held back unless `granules` names it (then its
 * upload record is forgotten, so it uploads afresh): its object may exist, which only the bucket's owner can see.
 * @throws InvalidInputError on a bad day.
 */
export async function requeue(
  input: { day: string; dryRun?: boolean; granules?: string[] },
  deps: RequeueDeps,
): Promise<RequeueResult> {
  const { day } = input;
  const named = new Set(input.granules ?? []);
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
  const unknown = (g: { lastError?: { name: string } }) => g.lastError?.name === OUTCOME_UNKNOWN;
  const held: HeldGranule[] = failed
    .filter((g) => unknown(g) && !named.has(g.granuleId))
    .map((g) => ({
      granuleId: g.granuleId,
      name: g.name,
      ...(g.upload?.key !== undefined && { key: g.upload.key }),
      advice:
        `its object may exist: ask HLS's bucket owner whether ${g.upload?.key ?? "its key"} exists or was processed ` +
        `(aws s3api head-object --bucket <HLS bucket> --key ${g.upload?.key ?? "<key>"}, and HLS's own records, ` +
        `since HLS deletes its inputs); only if neither, run: npm run ops -- requeue --day ${day} --granule ${g.granuleId}`,
    }));
  const candidates: RequeueCandidate[] = [
    ...failed
      .filter((g) => !unknown(g) || named.has(g.granuleId))
      .map((g) => ({
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
  const result: RequeueResult = { day, dryRun, candidates, held, requeued: [], skipped: [] };
  if (dryRun) return result;

  for (const candidate of candidates) {
    // A named UploadOutcomeUnknownError: the operator found no object, so the next attempt uploads afresh.
    const forgetUpload = candidate.lastError?.name === OUTCOME_UNKNOWN;
    const { requeued, granule } = await deps.store.requeueGranule(candidate.granuleId, { forgetUpload });
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
