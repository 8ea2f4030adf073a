import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { GranuleStore } from "../adapters/store/store";
import { DAY_MS, daysBetween, isValidDay, parseDay } from "../domain/day";
import { InvalidInputError } from "../domain/errors";
import type { GranuleRecord } from "../domain/granule";

/**
 * The delivery manifest of a publication day: one JSON line per granule DOWNLOADED (verified in the
 * upload bucket), sorted by key, at `delivery/<YYYY-MM-DD>.jsonl` in the work bucket. A consumer that
 * dropped ObjectCreated events replays the day from it, without any object being written again.
 */
export const DELIVERY_MANIFEST_PREFIX = "delivery/";

/** One line of a delivery manifest. */
export interface DeliveryLine {
  /** Product name (without `.SAFE`). */
  name: string;
  /** Object key in the upload bucket. */
  key: string;
  /** The hub's MD5 the object was verified against, lowercase hex. */
  md5: string;
  bytes: number;
  /** The hub's publication time (ISO). */
  publishedAt: string;
  /** When the object was verified in the bucket (ISO). */
  deliveredAt: string;
}

/** The work-bucket key of a day's delivery manifest. @throws InvalidInputError on a malformed day. */
export function deliveryManifestKey(day: string): string {
  if (!isValidDay(day)) throw new InvalidInputError(`day must be YYYY-MM-DD, got ${day}`, { field: "day" });
  return `${DELIVERY_MANIFEST_PREFIX}${day}.jsonl`;
}

/** A DOWNLOADED granule's line; undefined for any other status. */
function deliveryLineOf(granule: GranuleRecord): DeliveryLine | undefined {
  if (granule.status !== "DOWNLOADED" || granule.s3Key === undefined) return undefined;
  return {
    name: granule.name,
    key: granule.s3Key,
    md5: granule.checksum?.value ?? "",
    bytes: granule.bytesWritten ?? granule.sizeBytes,
    publishedAt: granule.publishedAt,
    deliveredAt: granule.downloadedAt ?? granule.updatedAt,
  };
}

/**
 * The closed days a run's Summarize writes the delivery manifest of: every day of its window, when the
 * window ends before today (UTC); none when it reaches today. A window that reaches today is the live
 * edge (a pushed-downloads run, a frequent poll) and runs every few minutes; the daily run, backfills
 * and their redrives end at a closed day, so each rewrites its days' manifests once, after its downloads.
 */
export function closedDaysOf(window: { from: string; to: string }, now: Date): string[] {
  const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  const to = parseDay(window.to);
  if (to === undefined || to >= today) return [];
  return daysBetween(window.from, window.to);
}

export interface DeliveryDeps {
  store: Pick<GranuleStore, "listByStatus">;
  s3: S3Client;
  /** The work bucket. */
  bucket: string;
}

/**
 * Writes the delivery manifest of each day from the table's DOWNLOADED granules. A PutObject of the
 * whole day (13,000 lines of ~290 bytes: 3.7 MB, beside the day's listing already in memory): written twice it
 * holds the same lines, and a later run rewrites it with what was delivered since.
 * @returns each manifest's key and line count.
 */
export async function writeDeliveryManifests(
  days: readonly string[],
  deps: DeliveryDeps,
  options: { signal?: AbortSignal } = {},
): Promise<{ day: string; key: string; lines: number }[]> {
  const written: { day: string; key: string; lines: number }[] = [];
  for (const day of days) {
    const key = deliveryManifestKey(day);
    const lines = (await deps.store.listByStatus(day, "DOWNLOADED"))
      .flatMap((granule) => deliveryLineOf(granule) ?? [])
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    await deps.s3.send(
      new PutObjectCommand({
        Bucket: deps.bucket,
        Key: key,
        Body: lines.map((line) => `${JSON.stringify(line)}\n`).join(""),
        ContentType: "application/x-ndjson",
      }),
      { abortSignal: options.signal },
    );
    written.push({ day, key, lines: lines.length });
  }
  return written;
}

/**
 * Reads a day's delivery manifest, or undefined when none was written yet.
 * @throws InvalidInputError on a malformed day or a line that is not a DeliveryLine's JSON.
 */
export async function readDeliveryManifest(
  day: string,
  deps: Pick<DeliveryDeps, "s3" | "bucket">,
  options: { signal?: AbortSignal } = {},
): Promise<DeliveryLine[] | undefined> {
  const key = deliveryManifestKey(day);
  let text: string;
  try {
    const object = await deps.s3.send(new GetObjectCommand({ Bucket: deps.bucket, Key: key }), {
      abortSignal: options.signal,
    });
    text = (await object.Body?.transformToString("utf8")) ?? "";
  } catch (error) {
    if ((error as { name?: string }).name === "NoSuchKey") return undefined;
    throw error;
  }
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line, i) => {
      const parsed = JSON.parse(line) as Partial<DeliveryLine>;
      if (typeof parsed.key !== "string" || typeof parsed.name !== "string")
        throw new InvalidInputError(`${key} line ${i + 1} is not a delivery line`, { field: "manifest" });
      return parsed as DeliveryLine;
    });
}
