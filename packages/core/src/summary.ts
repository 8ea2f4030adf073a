import { GRANULE_STATUSES, type GranuleStatus } from "./granule";
import { daysBetween } from "./queries";
import type { GranuleStore } from "./store";

export type StatusCounts = Record<GranuleStatus, number>;

export interface DaySummary {
  day: string;
  counts: StatusCounts;
  /** FAILED granules by the name of their last error, e.g. `{ GranuleGoneError: 2 }`. */
  failures: Record<string, number>;
  /** Bytes of the day's DOWNLOADED granules. */
  bytes: number;
}

export interface WindowSummary {
  from: string;
  to: string;
  days: DaySummary[];
  totals: { counts: StatusCounts; failures: Record<string, number>; bytes: number };
}

function emptyCounts(): StatusCounts {
  return Object.fromEntries(GRANULE_STATUSES.map((status) => [status, 0])) as StatusCounts;
}

/**
 * Counts a window's granules by status, its failures by error name and its downloaded bytes, per
 * day and in total: the execution's output and the source of its metrics.
 * @throws InvalidInputError on a bad window.
 */
export async function summarizeWindow(
  input: { from: string; to: string },
  deps: { store: Pick<GranuleStore, "countByStatus" | "listByStatus"> },
): Promise<WindowSummary> {
  const days = daysBetween(input.from, input.to);
  const totals = { counts: emptyCounts(), failures: {} as Record<string, number>, bytes: 0 };
  const summaries: DaySummary[] = [];
  for (const day of days) {
    const counts = { ...emptyCounts(), ...(await deps.store.countByStatus(day)) };
    const failures: Record<string, number> = {};
    for (const granule of await deps.store.listByStatus(day, "FAILED")) {
      const name = granule.lastError?.name ?? "Unknown";
      failures[name] = (failures[name] ?? 0) + 1;
      totals.failures[name] = (totals.failures[name] ?? 0) + 1;
    }
    let bytes = 0;
    for (const granule of await deps.store.listByStatus(day, "DOWNLOADED"))
      bytes += granule.bytesWritten ?? 0;
    for (const status of GRANULE_STATUSES) totals.counts[status] += counts[status];
    totals.bytes += bytes;
    summaries.push({ day, counts, failures, bytes });
  }
  return { from: input.from, to: input.to, days: summaries, totals };
}
