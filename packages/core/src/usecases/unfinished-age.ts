import type { GranuleStore } from "../adapters/store/store";
import { DEFAULT_RECONCILIATION_HORIZON_DAYS, DEFAULT_UNFINISHED_AGE_ALARM_HOURS } from "../config/runtime";
import { recentDays } from "../domain/day";
import { InvalidInputError, TERMINAL_ERROR_NAMES } from "../domain/errors";
import type { GranuleRecord } from "../domain/granule";
import type { MetricSink } from "../domain/metrics";

/** What the age safety net reads: how many granules have not ended, and how old the oldest is. */
export interface UnfinishedAge {
  /** The publication days read (YYYY-MM-DD, inclusive): twice the reconciliation horizon, ending today. */
  from: string;
  to: string;
  /** DISCOVERED, DOWNLOADING, or FAILED for a reason that is not terminal (attempts left or not). */
  unfinished: number;
  /** Of those, published more than `thresholdHours` ago: what the UnfinishedGranulesOld alarm fires on. */
  olderThanThreshold: number;
  thresholdHours: number;
  /** Publication → now of the oldest unfinished granule, seconds (0 when none). */
  oldestAgeSeconds: number;
  oldest?: { granuleId: string; day: string; publishedAt: string; status: GranuleRecord["status"] };
}

export interface UnfinishedAgeOptions {
  /** RECONCILIATION_HORIZON_DAYS: the days read are twice this, ending today. */
  horizonDays?: number;
  /** UNFINISHED_AGE_ALARM_HOURS. */
  thresholdHours?: number;
  now?: () => Date;
}

const TERMINAL: readonly string[] = TERMINAL_ERROR_NAMES;

/**
 * The safety net for any path nobody foresaw: every granule not ended (DOWNLOADED, or FAILED with a
 * terminal reason) of the last 2 × horizon publication days, counted by age. The horizon's runs retry
 * these; the second horizon keeps a granule that left it unfinished in the count (and the alarm) for
 * as long again. 3 statuses × STATUS_INDEX_SHARDS queries a day, no scan.
 * @throws InvalidInputError on a bad option.
 */
export async function measureUnfinishedAge(
  deps: { store: Pick<GranuleStore, "listByStatus"> },
  options: UnfinishedAgeOptions = {},
): Promise<UnfinishedAge> {
  let { horizonDays, thresholdHours, now } = options;
  horizonDays ??= DEFAULT_RECONCILIATION_HORIZON_DAYS;
  thresholdHours ??= DEFAULT_UNFINISHED_AGE_ALARM_HOURS;
  now ??= () => new Date();
  for (const [field, value] of [
    ["horizonDays", horizonDays],
    ["thresholdHours", thresholdHours],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new InvalidInputError(`${field} must be a positive integer, got ${value}`, { field });
    }
  }
  const at = now();
  const days = recentDays(at, 2 * horizonDays);
  const cutoffMs = at.getTime() - thresholdHours * 3_600_000;
  const result: UnfinishedAge = {
    from: days[0]!,
    to: days.at(-1)!,
    unfinished: 0,
    olderThanThreshold: 0,
    thresholdHours,
    oldestAgeSeconds: 0,
  };
  let oldestMs = Number.POSITIVE_INFINITY;
  // Every day and status at once: the reads are independent, and one after another they add up.
  const lists = await Promise.all(
    days.flatMap((day) =>
      (["DISCOVERED", "DOWNLOADING", "FAILED"] as const).map(async (status) => ({
        day,
        granules: await deps.store.listByStatus(day, status),
      })),
    ),
  );
  for (const { day, granules } of lists) {
    for (const granule of granules) {
      if (granule.status === "FAILED" && TERMINAL.includes(granule.lastError?.name ?? "")) continue;
      result.unfinished += 1;
      // A publication time that does not parse counts as the start of its day.
      const published = Date.parse(granule.publishedAt);
      const publishedMs = Number.isNaN(published) ? Date.parse(`${day}T00:00:00.000Z`) : published;
      if (publishedMs < cutoffMs) result.olderThanThreshold += 1;
      if (publishedMs < oldestMs) {
        oldestMs = publishedMs;
        const { granuleId, publishedAt, status } = granule;
        result.oldest = { granuleId, day, publishedAt, status };
      }
    }
  }
  if (result.oldest !== undefined) {
    result.oldestAgeSeconds = Math.max(0, Math.round((at.getTime() - oldestMs) / 1000));
  }
  return result;
}

/** Publishes the age figures: what Summarize and the scheduled age report both emit. */
export function reportUnfinishedAge(age: UnfinishedAge, metrics: MetricSink): void {
  metrics.add("UnfinishedGranules", age.unfinished);
  metrics.add("UnfinishedGranulesOld", age.olderThanThreshold);
  metrics.add("OldestUnfinishedAge", age.oldestAgeSeconds);
}
