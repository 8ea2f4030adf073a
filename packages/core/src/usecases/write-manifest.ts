import { setTimeout as sleep } from "node:timers/promises";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { GranuleStore } from "../adapters/store/store";
import { DEFAULT_RECONCILIATION_HORIZON_DAYS } from "../config/runtime";
import { daysBetween, recentDays } from "../domain/day";
import { InvalidInputError } from "../domain/errors";
import { leaseExpiredBetween } from "../domain/granule";

/** One line of the Distributed Map's manifest: what a child execution needs to find its granule. */
export interface ManifestItem {
  granuleId: string;
  name: string;
  day: string;
}

export interface ManifestInput {
  from: string;
  to: string;
  /** The parent execution's name: one manifest per execution, so a redrive reads the same items. */
  executionName: string;
  /**
   * ISO time (the plan's recordedSince): only what became pending in the window at or after it (DISCOVERED
   * granules recorded, DOWNLOADING leases expired), no horizon and no recount; the earlier share is the
   * running pushed-granules runs' (start-pushed-downloads.ts).
   */
  recordedSince?: string | null;
}

export interface ManifestDeps {
  store: Pick<GranuleStore, "listPendingReconciled" | "recountDay" | "listPending" | "listByStatus">;
  s3: S3Client;
  /** The work bucket the Distributed Map's item reader reads from. */
  bucket: string;
}

export interface ManifestOptions {
  /**
   * Reads of a day whose index shows fewer granules than recorded before giving up (default 4), and
   * the wait between them (default 1,000 ms). AWS: "All reads from GSIs and streams are eventually
   * consistent" and "Write operations propagate to a GSI within 1 second": a granule recorded
   * moments ago by FetchLinks may be missing from the first read without being lost.
   */
  reconcileAttempts?: number;
  reconcileDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /**
   * Recent days (ending today, UTC) whose pending granules the manifest takes besides the window's
   * (default DEFAULT_RECONCILIATION_HORIZON_DAYS): a granule a killed run left unfinished is downloaded
   * by the next run, whatever window that run has.
   */
  horizonDays?: number;
  /** The clock the horizon ends at; default now. */
  now?: () => Date;
}

export interface ManifestLocation {
  bucket: string;
  key: string;
  count: number;
  /** Of `count`, granules of horizon days outside the window. */
  reconciled: number;
  /** Days whose counters said more granules than the index kept showing: recounted from the index. */
  recounted?: DayRecount[];
}

/** A day whose `recorded` counters exceeded its index after the waits, as WriteManifest found it. */
export interface DayRecount {
  day: string;
  recorded: number;
  indexed: number;
}

// Step Functions names are 1–80 characters and already exclude "/" and controls; checked again
// because the name becomes an object key.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
const EXECUTION_NAME = /^[^/\\\u0000-\u001f\u007f]{1,80}$/;

/** The manifest's object key for an execution. */
export function manifestKeyFor(executionName: string): string {
  return `manifests/${executionName}.json`;
}

/**
 * Writes the window's pending granules (store.listPending of each day), then those of the
 * reconciliation horizon's other days, as a JSON array of `{ granuleId, name, day }` to
 * `manifests/<executionName>.json` in the work bucket, after checking each window day's index against
 * the granules the counter items say were recorded. A day whose index keeps showing fewer than
 * recorded after the waits (an over-count: an ADD applied twice by an older release, a lost index
 * entry) still has its granules listed: the day is reported in `recounted` and its counters are set
 * from the index, so one bad count never withholds a day.
 * @throws InvalidInputError on a bad window, option or an execution name unfit for an object key.
 */
export async function writeManifest(
  input: ManifestInput,
  deps: ManifestDeps,
  options: ManifestOptions = {},
): Promise<ManifestLocation> {
  options = { ...options };
  options.reconcileAttempts ??= 4;
  options.reconcileDelayMs ??= 1000;
  options.sleep ??= (ms) => sleep(ms);
  options.horizonDays ??= DEFAULT_RECONCILIATION_HORIZON_DAYS;
  options.now ??= () => new Date();
  if (!Number.isInteger(options.horizonDays) || options.horizonDays < 0) {
    throw new InvalidInputError(`horizonDays must be a non-negative integer, got ${options.horizonDays}`, {
      field: "horizonDays",
    });
  }
  if (!Number.isInteger(options.reconcileAttempts) || options.reconcileAttempts < 1) {
    throw new InvalidInputError(
      `reconcileAttempts must be a positive integer, got ${options.reconcileAttempts}`,
      {
        field: "reconcileAttempts",
      },
    );
  }
  if (!EXECUTION_NAME.test(input.executionName) || input.executionName.includes("..")) {
    throw new InvalidInputError(
      `execution name ${JSON.stringify(input.executionName)} cannot name a manifest`,
      {
        field: "executionName",
      },
    );
  }
  const days = daysBetween(input.from, input.to);
  if (input.recordedSince != null) {
    const items = await recordedSinceItems(days, input.recordedSince, options.now(), deps);
    return putManifest(input.executionName, deps, items);
  }

  const items: ManifestItem[] = [];
  const recounted: DayRecount[] = [];
  const seen = new Set<string>();
  for (const day of days) {
    let read = await deps.store.listPendingReconciled(day);
    for (let attempt = 1; read.indexed < read.recorded && attempt < options.reconcileAttempts; attempt++) {
      await options.sleep(options.reconcileDelayMs);
      read = await deps.store.listPendingReconciled(day);
    }
    // More indexed than recorded is harmless (a counter update lost to a crash after its put).
    if (read.indexed < read.recorded) {
      recounted.push({ day, recorded: read.recorded, indexed: read.indexed });
      await deps.store.recountDay(day);
    }
    for (const granule of read.granules) {
      // The Map would start two children for one granule; the second would only find it leased.
      if (seen.has(granule.granuleId)) continue;
      seen.add(granule.granuleId);
      items.push({ granuleId: granule.granuleId, name: granule.name, day });
    }
  }

  // The reconciliation horizon: the days the window does not cover, read through the status index
  // (3 statuses × STATUS_INDEX_SHARDS queries a day, no scan), no check against the counters (the
  // window's own runs checked them).
  const windowItems = items.length;
  const horizon = options.horizonDays === 0 ? [] : recentDays(options.now(), options.horizonDays);
  const others = horizon.filter((day) => !days.includes(day));
  const pendingByDay = await Promise.all(others.map((day) => deps.store.listPending(day)));
  for (const [i, day] of others.entries()) {
    for (const granule of pendingByDay[i]!) {
      if (seen.has(granule.granuleId)) continue;
      seen.add(granule.granuleId);
      items.push({ granuleId: granule.granuleId, name: granule.name, day });
    }
  }

  return {
    ...(await putManifest(input.executionName, deps, items)),
    reconciled: items.length - windowItems,
    ...(recounted.length > 0 && { recounted }),
  };
}

/**
 * What became pending in the window at or after `since`, newest day first (pushes land on today): the
 * DISCOVERED granules recorded since, and the DOWNLOADING ones whose lease expired since (a worker that
 * died: the run that listed them is gone or has passed them). The runs before this one took what
 * became pending before (start-pushed-downloads.ts), so the shares chain without a gap.
 */
async function recordedSinceItems(
  days: string[],
  since: string,
  now: Date,
  deps: ManifestDeps,
): Promise<ManifestItem[]> {
  const items: ManifestItem[] = [];
  const sinceMs = Date.parse(since);
  for (const day of [...days].reverse()) {
    const [discovered, downloading] = await Promise.all([
      deps.store.listByStatus(day, "DISCOVERED", { createdSince: since }),
      deps.store.listByStatus(day, "DOWNLOADING"),
    ]);
    const expired = downloading.filter((granule) => leaseExpiredBetween(granule, sinceMs, now.getTime()));
    for (const granule of [...discovered, ...expired]) {
      items.push({ granuleId: granule.granuleId, name: granule.name, day });
    }
  }
  return items;
}

async function putManifest(
  executionName: string,
  deps: ManifestDeps,
  items: ManifestItem[],
): Promise<ManifestLocation> {
  const key = manifestKeyFor(executionName);
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: deps.bucket,
      Key: key,
      Body: JSON.stringify(items),
      ContentType: "application/json",
    }),
  );
  return { bucket: deps.bucket, key, count: items.length, reconciled: 0 };
}
