import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { GranuleStore } from "../adapters/store/store";
import { daysBetween } from "../domain/day";
import { InvalidInputError } from "../domain/errors";

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
}

export interface ManifestDeps {
  store: Pick<GranuleStore, "listPendingReconciled" | "recountDay">;
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
}

export interface ManifestLocation {
  bucket: string;
  key: string;
  count: number;
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
 * Writes the window's pending granules (store.listPending of each day) as a JSON array of
 * `{ granuleId, name, day }` to `manifests/<executionName>.json` in the work bucket, after checking
 * each day's index against the granules the counter items say were recorded. A day whose index
 * keeps showing fewer than recorded after the waits (an over-count: an ADD applied twice by an older
 * release, a lost index entry) still has its granules listed: the day is reported in `recounted` and
 * its counters are set from the index, so one bad count never withholds a day.
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
  options.sleep ??= (ms) => new Promise((resolve) => setTimeout(resolve, ms));
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
  if (deps.bucket === "") throw new InvalidInputError("bucket is empty", { field: "bucket" });
  const days = daysBetween(input.from, input.to);

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

  const key = manifestKeyFor(input.executionName);
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: deps.bucket,
      Key: key,
      Body: JSON.stringify(items),
      ContentType: "application/json",
    }),
  );
  return { bucket: deps.bucket, key, count: items.length, ...(recounted.length > 0 && { recounted }) };
}
