import type { S3Client } from "@aws-sdk/client-s3";
import { DAY_MS, daysBetween, formatDay, isValidDay, parseDay, yesterdayOf } from "../domain/day";
import { InvalidInputError } from "../domain/errors";
import type { MetricSink } from "../domain/metrics";
import {
  type DayTally,
  type GranuleTally,
  type PlatformTally,
  tallyOfDay,
  type WindowSummary,
} from "../domain/tally";
import {
  closedDaysOf,
  type DeliveryDeps,
  deliveryManifestKey,
  readDeliveryManifest,
  writeDeliveryManifests,
} from "./delivery-manifest";
import { readCounters, readDay, type TallyStore } from "./summarize";

/** Days before the reported one whose counts make its median (DayProductsOfMedian). */
const MEDIAN_DAYS = 7;
/** Of those, how many must have been searched for a median to mean anything (a new stage has none). */
const MEDIAN_MIN_DAYS = 4;

/**
 * The day's S2MSI1C count: what the searches found, less what they filtered as another product type.
 * It falls when ESA moves to another product type (Zarr `S02MSIL1C`), an API changes or a search dies.
 */
function productsOfDay(tally: Pick<GranuleTally, "found" | "filteredBy">): number {
  return tally.found - tally.filteredBy.level;
}

export interface DayProducts {
  day: string;
  found: number;
  /** The median of the 7 days before, over those that were searched; absent with fewer than 4. */
  median?: number;
  /** found / median in percent (absent without a median, or with a median of 0). */
  ofMedianPercent?: number;
}

/**
 * The day's S2MSI1C count against its median over the 7 days before, those days counted from their
 * search counters alone (tallyOfDay without granules: found = recorded + filtered, as for the day).
 * Computed here, not by CloudWatch: metric math has no median of a metric's own past, and every
 * metric of an alarm shares the alarm's period, so a day cannot be compared with a week there.
 */
export async function measureDayProducts(
  tally: DayTally,
  deps: { store: Pick<TallyStore, "getFetchProgress"> },
  options: { now?: Date } = {},
): Promise<DayProducts> {
  const nowMs = (options.now ?? new Date()).getTime();
  const dayMs = parseDay(tally.day)!;
  const before = daysBetween(formatDay(dayMs - MEDIAN_DAYS * DAY_MS), formatDay(dayMs - DAY_MS));
  const counts: number[] = [];
  for (const day of before) {
    const past = tallyOfDay(day, [], await readCounters(day, deps), nowMs);
    if (past.platforms.some((row) => row.availableAt !== undefined && row.availableAt !== "")) {
      counts.push(productsOfDay(past));
    }
  }
  const found = productsOfDay(tally);
  if (counts.length < MEDIAN_MIN_DAYS) return { day: tally.day, found };
  counts.sort((a, b) => a - b);
  const mid = Math.floor(counts.length / 2);
  const median = counts.length % 2 === 1 ? counts[mid]! : (counts[mid - 1]! + counts[mid]!) / 2;
  return {
    day: tally.day,
    found,
    median,
    ...(median > 0 && { ofMedianPercent: Math.round((1000 * found) / median) / 10 }),
  };
}

/** Publishes a day's count (and its share of the median when there is one) for the DayProductsLow alarm. */
function reportDayProducts(products: DayProducts, sink: MetricSink): void {
  sink.add("DayProductsFound", products.found);
  if (products.ofMedianPercent !== undefined) sink.add("DayProductsOfMedian", products.ofMedianPercent);
}

/** The day a window's Summarize reports the count of: its last, when that is yesterday (the daily run). */
function countedDayOf(window: { to: string }, now: Date): string | undefined {
  return window.to === yesterdayOf(now) ? window.to : undefined;
}

/**
 * What a run's Summarize adds for the days of its window that closed (closedDaysOf): their delivery
 * manifests, and, when its window ends yesterday (the daily run), that day's S2MSI1C count against
 * its median, published for the DayProductsLow alarm.
 */
export async function reportClosedDays(
  summary: WindowSummary,
  deps: DeliveryDeps & {
    store: DeliveryDeps["store"] & Pick<TallyStore, "getFetchProgress">;
    metrics: MetricSink;
  },
  options: { now?: Date; signal?: AbortSignal } = {},
): Promise<{ manifests: { day: string; key: string; lines: number }[]; products?: DayProducts }> {
  const now = options.now ?? new Date();
  const manifests = await writeDeliveryManifests(closedDaysOf(summary, now), deps, options);
  const counted = countedDayOf(summary, now);
  const tally = summary.days.find((day) => day.day === counted);
  if (tally === undefined) return { manifests };
  const products = await measureDayProducts(tally, deps, { now });
  reportDayProducts(products, deps.metrics);
  return { manifests, products };
}

/** One identity of the report, its terms and whether it holds. */
export interface Equation {
  holds: boolean;
  /** Why it does not hold (absent when it does). */
  reason?: string;
}

/** A (day, platform) row of the completeness report. */
export interface PlatformCompleteness {
  platform: string;
  /** The hub's count, asked after the day closed (the search counter's, from a page read after midnight). */
  hubCount?: number;
  hubCountAt?: string;
  found: number;
  filtered: number;
  filteredBy: PlatformTally["filteredBy"];
  recorded: number;
  delivered: number;
  failed: number;
  pending: number;
  duplicates: number;
  missing: number;
  withdrawn: number;
}

/** What `ops report --day D` prints: completeness an operator can hand to HLS. */
export interface DayReport {
  day: string;
  /** True once the day is over (UTC). */
  closed: boolean;
  platforms: PlatformCompleteness[];
  totals: Omit<PlatformCompleteness, "platform" | "hubCountAt" | "filteredBy">;
  /**
   * found = filtered + recorded (the tally's making) against the hub's count after the day closed, per
   * platform: equal, or less by at most the products withdrawn since they were recorded.
   */
  found: Equation;
  /** recorded = delivered + failed + pending + duplicates (nothing recorded missing from the index). */
  recorded: Equation;
  duplicates: { granuleId: string; name: string; duplicateOf: string }[];
  /** Recorded, then gone from the hub (their download answered 404/410: FAILED GranuleGoneError). */
  withdrawn: { granuleId: string; name: string; platform: string }[];
  manifest: {
    bucket: string;
    key: string;
    uri: string;
    /** Its lines; absent when it was not written yet (the day's daily run writes it). */
    lines?: number;
    /** The manifest's keys are exactly the delivered granules' keys. */
    matchesDelivered?: boolean;
  };
}

const WITHDRAWN_ERROR = "GranuleGoneError";

/**
 * The completeness of one publication day, per platform: the hub's count after the day closed, found =
 * filtered + recorded, recorded = delivered + failed + pending + duplicates, the duplicates and withdrawn
 * products by name, and the day's delivery manifest checked against the delivered granules.
 * @throws InvalidInputError on a malformed day.
 */
export async function reportDay(
  day: string,
  deps: { store: TallyStore; s3: S3Client; bucket: string },
  options: { now?: Date } = {},
): Promise<DayReport> {
  if (!isValidDay(day)) throw new InvalidInputError(`day must be YYYY-MM-DD, got ${day}`, { field: "day" });
  const now = options.now ?? new Date();
  const dayEnd = new Date(parseDay(day)! + DAY_MS).toISOString();
  const { granules, counters } = await readDay(day, deps);
  const tally = tallyOfDay(day, granules, counters, now.getTime());
  const gone = granules.filter((g) => g.status === "FAILED" && g.lastError?.name === WITHDRAWN_ERROR);
  const platforms = tally.platforms.map((row): PlatformCompleteness => {
    const afterClose = row.availableAt !== undefined && row.availableAt >= dayEnd;
    return {
      platform: row.platform,
      ...(afterClose && { hubCount: row.available, hubCountAt: row.availableAt }),
      found: row.found,
      filtered: row.filtered,
      filteredBy: row.filteredBy,
      recorded: row.recorded,
      delivered: row.downloaded,
      failed: row.failed,
      pending: row.pending,
      duplicates: row.duplicates,
      missing: row.missing,
      withdrawn: gone.filter((g) => g.platform === row.platform).length,
    };
  });
  const sum = (key: keyof Omit<PlatformCompleteness, "platform" | "hubCountAt" | "filteredBy">) =>
    platforms.reduce((total, row) => total + (row[key] ?? 0), 0);
  const asked = platforms.filter((row) => row.hubCount !== undefined);
  const totals = {
    ...(asked.length > 0 && { hubCount: sum("hubCount") }),
    found: tally.found,
    filtered: tally.filtered,
    recorded: tally.recorded,
    delivered: tally.downloaded,
    failed: tally.failed,
    pending: tally.pending,
    duplicates: tally.duplicates,
    missing: tally.missing,
    withdrawn: gone.length,
  };
  const unasked = platforms.filter((row) => row.hubCount === undefined && row.found > 0);
  // A product withdrawn after we recorded it may have left the hub's count (a real withdrawal) or not
  // (a hub that lists what it no longer serves): each withdrawn one accounts for at most one missing.
  const off = asked.filter((row) => row.hubCount! > row.found || row.hubCount! < row.found - row.withdrawn);
  const found: Equation =
    unasked.length > 0
      ? {
          holds: false,
          reason: `no count of the hub after the day closed for ${unasked.map((r) => r.platform).join(", ")}`,
        }
      : off.length > 0
        ? {
            holds: false,
            reason: off
              .map(
                (r) =>
                  `${r.platform}: the hub lists ${r.hubCount}, found ${r.found} (${r.withdrawn} withdrawn)`,
              )
              .join("; "),
          }
        : { holds: true };
  const recorded: Equation =
    tally.missing === 0
      ? { holds: true }
      : { holds: false, reason: `${tally.missing} recorded granules are missing from the status index` };
  const names = new Map(granules.map((g) => [g.granuleId, g.name]));
  const key = deliveryManifestKey(day);
  const lines = await readDeliveryManifest(day, deps);
  const delivered = granules.flatMap((g) => (g.status === "DOWNLOADED" && g.s3Key ? [g.s3Key] : [])).sort();
  const listed = lines?.map((line) => line.key).sort();
  return {
    day,
    closed: now.toISOString() >= dayEnd,
    platforms,
    totals,
    found,
    recorded,
    duplicates: tally.duplicateIds.map(({ granuleId, duplicateOf }) => ({
      granuleId,
      name: names.get(granuleId) ?? "",
      duplicateOf,
    })),
    withdrawn: gone.map((g) => ({ granuleId: g.granuleId, name: g.name, platform: g.platform })),
    manifest: {
      bucket: deps.bucket,
      key,
      uri: `s3://${deps.bucket}/${key}`,
      ...(listed !== undefined && {
        lines: listed.length,
        matchesDelivered: listed.length === delivered.length && listed.every((k, i) => k === delivered[i]),
      }),
    },
  };
}
