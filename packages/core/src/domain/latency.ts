import type { GranuleStore } from "../adapters/store/store";

/**
 * Publication → verified-object latency: how long a granule took from the hub's publication time to
 * its verified object in the bucket. One definition for the per-granule metric, `ops status` and the
 * local summary.
 */

/** p50/p95/max of a set of latencies, in seconds; `count` 0 (and no figures) when there is none. */
export interface LatencyStats {
  count: number;
  p50Seconds?: number;
  p95Seconds?: number;
  maxSeconds?: number;
}

/**
 * Seconds from `publishedAt` to `verifiedAt` (ISO-8601 or epoch ms), never negative: a hub clock
 * ahead of ours must not make a negative value, and "Percentile statistics are not available for
 * metrics when any of the metric values are negative numbers" (CloudWatch GetMetricStatistics).
 * Undefined when either time is missing or unreadable.
 */
export function publicationLatencySeconds(
  publishedAt: string | undefined,
  verifiedAt: string | number | undefined,
): number | undefined {
  if (publishedAt === undefined || verifiedAt === undefined) return undefined;
  const published = Date.parse(publishedAt);
  const verified = typeof verifiedAt === "number" ? verifiedAt : Date.parse(verifiedAt);
  if (Number.isNaN(published) || Number.isNaN(verified)) return undefined;
  return Math.max(0, Math.round(verified - published) / 1000);
}

/**
 * p50, p95 and max of the latencies of the granules that have both times (downloaded ones).
 * Percentiles by nearest rank (the smallest value with at least p % of values at or below it), so
 * every figure is a latency a granule really had.
 */
export function latencyStats(
  granules: Iterable<{ publishedAt?: string; downloadedAt?: string }>,
): LatencyStats {
  const values: number[] = [];
  for (const granule of granules) {
    const seconds = publicationLatencySeconds(granule.publishedAt, granule.downloadedAt);
    if (seconds !== undefined) values.push(seconds);
  }
  if (values.length === 0) return { count: 0 };
  values.sort((a, b) => a - b);
  const rank = (p: number) => values[Math.max(0, Math.ceil((p / 100) * values.length) - 1)]!;
  return { count: values.length, p50Seconds: rank(50), p95Seconds: rank(95), maxSeconds: values.at(-1)! };
}

/** A latency for people: `42 s`, `17 min`, `5.3 h`. */
export function formatLatency(seconds: number | undefined): string {
  if (seconds === undefined) return "-";
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** The latency figures of one publication day. */
export interface DayLatency extends LatencyStats {
  day: string;
}

/**
 * Per publication day, the latency figures of its DOWNLOADED granules (from the status index).
 * @throws what the store's listByStatus throws.
 */
export async function latencyByDay(
  days: readonly string[],
  deps: { store: Pick<GranuleStore, "listByStatus"> },
): Promise<DayLatency[]> {
  const result: DayLatency[] = [];
  for (const day of days)
    result.push({ day, ...latencyStats(await deps.store.listByStatus(day, "DOWNLOADED")) });
  return result;
}

/**
 * The latency block of `ops status` and the local summary: one line per day with downloads, or one
 * line saying there is none yet.
 */
export function formatLatencyLines(latency: readonly DayLatency[]): string[] {
  const rows = latency.filter((day) => day.count > 0);
  if (rows.length === 0) return ["Latency publication → verified object: no granule downloaded yet."];
  const cells = rows.map((day) => [
    day.day,
    String(day.count),
    formatLatency(day.p50Seconds),
    formatLatency(day.p95Seconds),
    formatLatency(day.maxSeconds),
  ]);
  const header = ["day", "downloaded", "p50", "p95", "max"];
  const widths = header.map((cell, i) => Math.max(cell.length, ...cells.map((row) => row[i]!.length)));
  const line = (row: string[]) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
  return ["Latency publication → verified object:", line(header), ...cells.map(line)];
}
