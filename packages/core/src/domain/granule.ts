/**
 * The granule's life in the table: DISCOVERED → DOWNLOADING → DOWNLOADED | FAILED (→ redrive → DOWNLOADING),
 * or DUPLICATE (terminal, never downloaded): another id of the same product name holds its object key.
 */
export const GRANULE_STATUSES = ["DISCOVERED", "DOWNLOADING", "DOWNLOADED", "FAILED", "DUPLICATE"] as const;
export type GranuleStatus = (typeof GRANULE_STATUSES)[number];

/**
 * The Sentinel-2 platforms in orbit, by their short id: the default of a search. Hubs map them to
 * their own vocabulary. Validation accepts any `S2[A-Z]` (see isPlatform): Sentinel-2D comes next,
 * and a hub listing it must not make the granule "invalid hub data" before a release names it.
 */
export const PLATFORMS = ["S2A", "S2B", "S2C"] as const;
// biome-ignore format: the alphabet reads better on two lines than on twenty-six
type Letter = "A" | "B" | "C" | "D" | "E" | "F" | "G" | "H" | "I" | "J" | "K" | "L" | "M"
  | "N" | "O" | "P" | "Q" | "R" | "S" | "T" | "U" | "V" | "W" | "X" | "Y" | "Z";
/** A Sentinel-2 platform id, `S2` and one capital letter. */
export type Platform = `S2${Letter}`;
/** What a platform id looks like: every Sentinel-2 unit so far and to come (S2A … S2D …). */
export const PLATFORM_PATTERN = /^S2[A-Z]$/;

/**
 * Every platform id the table may hold (S2A … S2Z): what a reader of a day's counters reads, since the
 * PLATFORMS setting accepts any of them while PLATFORMS the constant names only the units in orbit.
 */
export const ALL_PLATFORM_IDS: readonly Platform[] = Array.from(
  { length: 26 },
  (_, i) => `S2${String.fromCharCode(65 + i)}` as Platform,
);

/** True when `value` is a Sentinel-2 platform id (`S2A`, `S2D`, …). */
export function isPlatform(value: unknown): value is Platform {
  return typeof value === "string" && PLATFORM_PATTERN.test(value);
}

/** A granule as a hub's search page describes it, after validation and filtering. */
export interface DiscoveredGranule {
  /** The hub's product id (DHuS UUID, CDSE UUID): the table's key. */
  granuleId: string;
  /** Product name without extension, e.g. S2B_MSIL1C_20240101T101419_N0510_R022_T32TQM_20240101T105935. */
  name: string;
  tileId: string;
  platform: Platform;
  /** ISO-8601 UTC timestamps with milliseconds. */
  sensingStart: string;
  sensingEnd: string;
  publishedAt: string;
  sizeBytes: number;
  /** Present only when the source carried it (CDSE push notifications); lowercase hex. */
  md5?: string;
}

export interface GranuleChecksum {
  algorithm: "MD5";
  /** Lowercase hex, 32 characters. */
  value: string;
  fetchedAt: string;
}

export interface GranuleError {
  name: string;
  message: string;
}

/** Resume state of an unfinished multipart upload, persisted between attempts. */
export interface UploadProgress {
  uploadId: string;
  key: string;
  parts: { PartNumber: number; ETag: string }[];
  /** Bytes of the product already in completed parts. */
  bytes: number;
  /** Serialized MD5 state (hash-wasm `save()`), base64, covering exactly `bytes` bytes. */
  hashState: string;
  /** Serialized zip check state (ZipCheck `save()`) covering exactly `bytes` bytes, when the transfer checks the archive. */
  zipState?: string;
  /** Serialized BLAKE3 state (hash-wasm `save()`), base64, covering `bytes` bytes, when the hub gave a BLAKE3 instead of an MD5. */
  blake3State?: string;
  /** Epoch milliseconds when CreateMultipartUpload answered: how old the upload is (lifecycle rules abort by age). */
  createdAt?: number;
  /**
   * Set once every part is uploaded and the streamed MD5 equals the hub's, just before
   * CompleteMultipartUpload: `parts` then lists every part and `bytes` is the product's size. From
   * here on the upload is never aborted; a later attempt re-issues Complete instead of downloading.
   */
  completing?: { md5: string };
  /** Set (epoch ms) by the sweeper before it aborts the upload: an attempt that finds it never resumes it. */
  abandonedAt?: number;
}

/** A granule item in the table. */
export interface GranuleRecord extends DiscoveredGranule {
  /** Publication day, YYYY-MM-DD (UTC): partition of the status index. */
  day: string;
  status: GranuleStatus;
  attempts: number;
  checksum?: GranuleChecksum;
  lastError?: GranuleError;
  s3Key?: string;
  bytesWritten?: number;
  leaseOwner?: string;
  /**
   * The owner (child execution id) whose failed attempt set FAILED: its Step Functions Retry, or a
   * Redrive of that same child execution, re-claims the granule as the same attempt.
   */
  failedBy?: string;
  /** Epoch milliseconds after which a DOWNLOADING claim may be taken over. */
  leaseExpiresAt?: number;
  /** Epoch milliseconds of the last failure recorded (markFailed). */
  failedAtMs?: number;
  upload?: UploadProgress;
  /**
   * Set just before CreateMultipartUpload, removed when the new upload is recorded (or the granule is
   * downloaded): still set at the next claim, it says an attempt died between S3 creating an upload and
   * the table learning its id, so an upload nobody knows may be open on `key` (see abortUnrecordedUploads).
   */
  uploadCreating?: { key: string; atMs: number };
  /** DUPLICATE only: the granule id that holds this product name's object key. */
  duplicateOf?: string;
  /**
   * DOWNLOADED by an earlier write: S3 answered 412 to our `If-None-Match: *` (the key existed), so the
   * object is the one written before (an earlier attempt whose answer was lost, or another writer).
   */
  delivery?: { by: "earlier-write"; reason: string };
  createdAt: string;
  updatedAt: string;
  downloadedAt?: string;
}

/**
 * Why `owner` cannot claim `granule` at `nowMs` without writing: it is downloaded, or another worker
 * holds a live lease on it (a lease that ends at `nowMs` is still live, as in the claim's condition).
 * Undefined: the granule may be claimable (the claim's conditional write decides).
 */
export function claimBlocker(
  granule: Pick<GranuleRecord, "status" | "leaseOwner" | "leaseExpiresAt">,
  owner: string,
  nowMs: number,
): "already-downloaded" | "leased" | undefined {
  if (granule.status === "DOWNLOADED") return "already-downloaded";
  const liveLease =
    granule.status === "DOWNLOADING" &&
    granule.leaseOwner !== owner &&
    (granule.leaseExpiresAt ?? 0) >= nowMs;
  return liveLease ? "leased" : undefined;
}

/**
 * A DOWNLOADING granule whose lease ended in [sinceMs, nowMs): its worker is gone (a live worker
 * renews it), and the claim's condition (`leaseExpiresAt < now`) lets a new run's child take it.
 */
export function leaseExpiredBetween(
  granule: Pick<GranuleRecord, "status" | "leaseExpiresAt">,
  sinceMs: number,
  nowMs: number,
): boolean {
  const expires = granule.leaseExpiresAt;
  return granule.status === "DOWNLOADING" && expires !== undefined && expires < nowMs && expires >= sinceMs;
}

/** The object key of a granule: product name with `.zip` (the reference system's layout), under an optional prefix. */
/** The one top-level folder a product's zip holds: `<name>.SAFE` (names are listed with or without it). */
export function safeFolderOf(name: string): string {
  return name.endsWith(".SAFE") ? name : `${name}.SAFE`;
}

export function objectKeyFor(name: string, prefix = ""): string {
  const base = name.endsWith(".SAFE") ? name.slice(0, -".SAFE".length) : name;
  const cleanPrefix = prefix === "" ? "" : prefix.endsWith("/") ? prefix : `${prefix}/`;
  return `${cleanPrefix}${base}.zip`;
}

/**
 * How many index partitions one day's granules are spread over. DynamoDB gives each partition at
 * most 1,000 write units per second, and with an ALL projection every write to a granule item is
 * also a write to the index: a 13,000-granule day written ~4 times per granule, 16 puts at a time
 * per search, would push one shared (day, status) key past that. Eight shards give a day ~8,000
 * writes/s of index headroom while a reader pays only 8 queries per status. Changing it moves
 * granules between shards: existing items keep their old shard until rewritten, so never change it
 * on a deployed table without re-running the shard migration (see docs/reliability.md).
 */
export const STATUS_INDEX_SHARDS = 8;

/**
 * The granule table's key schema, shared by the store and the stack that creates the table.
 * Granule items: pk = `granule#<granuleId>`. Per (day, platform) counter items: pk = `fetch#<day>#<platform>`.
 * The status index is keyed by `dayShard` = `<day>#<shard>` (see STATUS_INDEX_SHARDS) and status;
 * it is sparse: only granule items carry `dayShard`.
 */
export const TABLE_SCHEMA = {
  partitionKey: "pk",
  statusIndex: { name: "byDayShardStatus", partitionKey: "dayShard", sortKey: "status" },
} as const;

/** The shard (0 … STATUS_INDEX_SHARDS − 1) of a granule: FNV-1a of its id, stable across runs and processes. */
export function statusShardOf(granuleId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < granuleId.length; i++) {
    hash ^= granuleId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % STATUS_INDEX_SHARDS;
}

/** The status index partition key of a granule published on `day`. */
export function dayShardOf(day: string, granuleId: string): string {
  return `${day}#${statusShardOf(granuleId)}`;
}

/** Every status index partition key of a day: a reader of the day reads them all. */
export function dayShardsOf(day: string): string[] {
  return Array.from({ length: STATUS_INDEX_SHARDS }, (_, shard) => `${day}#${shard}`);
}
