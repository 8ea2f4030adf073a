import {
  type DayLatency,
  GRANULE_STATUSES,
  type GranuleRecord,
  type GranuleStore,
  latencyByDay,
  PLATFORMS,
  type Platform,
  planWindow,
} from "@hls-s2/core";
import { type ExecutionRow, listExecutions, type SfnTarget, toRow } from "../executions";

export interface StatusCounts {
  /** Granules the table holds (every status). */
  found: number;
  downloaded: number;
  failed: number;
  /** DISCOVERED or DOWNLOADING: not finished either way. */
  pending: number;
  /** DOWNLOADING whose lease expired: its worker is gone (requeue picks these up). */
  stuck: number;
  /** FAILED granules by their last error's name. */
  failures: Record<string, number>;
  /** Bytes of the DOWNLOADED granules. */
  bytes: number;
}

export interface PlatformStatus extends StatusCounts {
  platform: Platform;
  /** Results the hub reported for this day's search, when it was searched. */
  available?: number;
  searchFinished?: boolean;
}

export interface DayStatus extends StatusCounts {
  day: string;
  platforms: PlatformStatus[];
}

export interface StatusReport {
  from: string;
  to: string;
  days: DayStatus[];
  totals: StatusCounts;
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

export function emptyCounts(): StatusCounts {
  return { found: 0, downloaded: 0, failed: 0, pending: 0, stuck: 0, failures: {}, bytes: 0 };
}

export function addCounts(target: StatusCounts, source: StatusCounts): StatusCounts {
  target.found += source.found;
  target.downloaded += source.downloaded;
  target.failed += source.failed;
  target.pending += source.pending;
  target.stuck += source.stuck;
  target.bytes += source.bytes;
  for (const [name, n] of Object.entries(source.failures)) {
    target.failures[name] = (target.failures[name] ?? 0) + n;
  }
  return target;
}

function count(counts: StatusCounts, granule: GranuleRecord, nowMs: number): void {
  counts.found++;
  if (granule.status === "DOWNLOADED") {
    counts.downloaded++;
    counts.bytes += granule.bytesWritten ?? 0;
  } else if (granule.status === "FAILED") {
    counts.failed++;
    const name = granule.lastError?.name ?? "Unknown";
    counts.failures[name] = (counts.failures[name] ?? 0) + 1;
  } else {
    counts.pending++;
    if (granule.status === "DOWNLOADING" && (granule.leaseExpiresAt ?? 0) < nowMs) counts.stuck++;
  }
}

/**
 * Per day and platform of a window (default yesterday, UTC): what the table holds by outcome,
 * failures by error name, bytes, and what the hub reported; plus the latest executions.
 * @throws InvalidInputError on a bad day or window (the backfill rules).
 */
export async function status(input: StatusInput, deps: StatusDeps): Promise<StatusReport> {
  const nowMs = (deps.now ?? new Date()).getTime();
  const plan = planWindow(
    input.day !== undefined ? { from: input.day, to: input.day } : { from: input.from, to: input.to },
    { today: deps.today ?? new Date() },
  );
  const days: DayStatus[] = [];
  for (const day of plan.days) {
    const byPlatform = new Map<Platform, PlatformStatus>();
    const row = (platform: Platform) => {
      let found = byPlatform.get(platform);
      if (found === undefined) {
        found = { platform, ...emptyCounts() };
        byPlatform.set(platform, found);
      }
      return found;
    };
    // Items, not COUNT queries: the table has no per-platform index, and the failures need names.
    const lists = await Promise.all(GRANULE_STATUSES.map((s) => deps.store.listByStatus(day, s)));
    for (const granule of lists.flat()) count(row(granule.platform), granule, nowMs);
    const progress = await Promise.all(PLATFORMS.map((p) => deps.store.getFetchProgress(day, p)));
    PLATFORMS.forEach((platform, i) => {
      const searched = progress[i];
      if (searched === undefined) return;
      const platformRow = row(platform);
      platformRow.available = searched.available;
      platformRow.searchFinished = searched.finished;
    });
    const platforms = PLATFORMS.filter((p) => byPlatform.has(p)).map((p) => byPlatform.get(p)!);
    const totals = platforms.reduce(addCounts, emptyCounts());
    days.push({ day, ...totals, platforms });
  }
  const totals = days.reduce(addCounts, emptyCounts());
  let executions: ExecutionRow[] | null = null;
  if (deps.sfn !== undefined) {
    executions = (await listExecutions(deps.sfn, { limit: deps.executions ?? 10 })).map(toRow);
  }
  const latency = await latencyByDay(plan.days, { store: deps.store });
  return { from: plan.from, to: plan.to, days, totals, latency, executions };
}
