import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateScan,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { isValidDay } from "../../domain/day";
import {
  GranuleNotFoundError,
  InvalidInputError,
  LeaseLostError,
  MISMATCH_ERROR_NAMES,
  TERMINAL_ERROR_NAMES,
} from "../../domain/errors";
import { FILTER_REASONS, type FilterReason, normalizeMd5 } from "../../domain/filters";
import {
  type DiscoveredGranule,
  dayShardOf,
  dayShardsOf,
  GRANULE_STATUSES,
  type GranuleError,
  type GranuleRecord,
  type GranuleStatus,
  isPlatform,
  PLATFORMS,
  type Platform,
  TABLE_SCHEMA,
  type UploadProgress,
} from "../../domain/granule";

export interface GranuleStoreOptions {
  tableName: string;
  /** How long a DOWNLOADING claim lasts before another worker may take it over (default 15 min). */
  leaseMs?: number;
  /** Attempts after which a FAILED granule is no longer pending (default 5). */
  maxAttempts?: number;
  /** Clock, injectable for lease tests. */
  now?: () => Date;
}

export type ClaimResult =
  | { outcome: "claimed"; granule: GranuleRecord }
  | { outcome: "already-downloaded"; granule: GranuleRecord }
  | { outcome: "leased"; granule: GranuleRecord };

/** What the link fetcher knows about one (day, platform) search, kept between Lambda invocations. */
export interface FetchProgress {
  /** Results the hub says the search has. */
  available: number;
  /** Entries read so far (accepted or not), summed over every page. */
  fetched: number;
  /** Offset to resume the search from. */
  nextOffset: number;
  finished: boolean;
  lastFetchAt: string;
  /**
   * Granules recordDiscovered stored as new for this (day, platform), from every source (search and
   * push). Counted beside the put, never derived from the status index, so a reader can tell when
   * the index shows fewer granules than were recorded.
   */
  recorded: number;
  /** Entries the search read and did not record, by filter reason. */
  filtered: Record<FilterReason, number>;
}

export interface FetchProgressUpdate {
  available: number;
  fetchedDelta: number;
  nextOffset: number;
  finished: boolean;
  /** Entries of this step that were filtered out, by reason (added to the running totals). */
  filteredDelta?: Partial<Record<FilterReason, number>>;
  /** Granules this step recorded with `countLater` (added to `recorded`). */
  recordedDelta?: number;
}

/** What listPendingReconciled read of a day: the pending granules and two independent counts to check them by. */
export interface ReconciledPending {
  granules: GranuleRecord[];
  /** Granule items the status index returned for the day, in every status (pending ones included). */
  indexed: number;
  /** Granules recorded for the day according to the per (day, platform) counter items. */
  recorded: number;
}

const DEFAULT_LEASE_MS = 15 * 60 * 1000;
const DEFAULT_MAX_ATTEMPTS = 5;
/**
 * A checksum mismatch is terminal for a run but gets one more try this long after it failed: ESA
 * corrects a wrongly published checksum, and the next attempt fetches the checksum again.
 */
export const MISMATCH_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;
const MAX_ERROR_MESSAGE_LENGTH = 1000;
const MAX_ERROR_NAME_LENGTH = 200;
// A claim whose condition fails because the item moved between write and read is retried this often.
const CLAIM_ROUNDS = 3;

const PK = TABLE_SCHEMA.partitionKey;
const INDEX = TABLE_SCHEMA.statusIndex;

type Item = Record<string, unknown>;

function granuleKey(granuleId: string) {
  return { [PK]: `granule#${granuleId}` };
}

function fetchKey(day: string, platform: Platform) {
  return { [PK]: `fetch#${day}#${platform}` };
}

function toRecord(item: Item): GranuleRecord {
  const { [PK]: _key, ...record } = item;
  return record as unknown as GranuleRecord;
}

/** Every attribute in an expression goes through a `#name` placeholder: DynamoDB reserves words like status, day, name. */
function attributeNames(...names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((name) => [`#${name}`, name]));
}

function isConditionFailed(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}

/** Rethrows an SDK failure with what we were doing; keeps its name so a Catch still sees e.g. ProvisionedThroughputExceededException. */
function withContext(error: unknown, context: string): Error {
  const original = error instanceof Error ? error : new Error(String(error));
  const wrapped = new Error(`${context}: ${original.message}`, { cause: error });
  wrapped.name = original.name;
  return wrapped;
}

function requireText(value: unknown, field: string): string {
  if (typeof value !== "string" || value === "") {
    throw new InvalidInputError(`${field} must be a non-empty string`, { field });
  }
  return value;
}

function requireDay(day: unknown): string {
  if (typeof day !== "string" || !isValidDay(day)) {
    throw new InvalidInputError(`day must be YYYY-MM-DD, got ${JSON.stringify(day)}`, { field: "day" });
  }
  return day;
}

function requireCount(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new InvalidInputError(`${field} must be a non-negative integer, got ${String(value)}`, { field });
  }
  return value;
}

function truncate(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

/**
 * The granule table: one item per granule and one counter item per (day, platform) search. Every
 * state transition is a single conditional write (no transactions), so two workers can never both
 * hold a granule and a DOWNLOADED granule is never claimed again.
 */
export class GranuleStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #leaseMs: number;
  readonly #maxAttempts: number;
  readonly #now: () => Date;

  /** @throws InvalidInputError naming a bad option. */
  constructor(client: DynamoDBDocumentClient, options: GranuleStoreOptions) {
    const { tableName } = options;
    let { leaseMs, maxAttempts, now } = options;
    leaseMs ??= DEFAULT_LEASE_MS;
    maxAttempts ??= DEFAULT_MAX_ATTEMPTS;
    now ??= () => new Date();
    requireText(tableName, "tableName");
    if (!Number.isInteger(leaseMs) || leaseMs <= 0) {
      throw new InvalidInputError(`leaseMs must be a positive integer, got ${leaseMs}`, { field: "leaseMs" });
    }
    if (!Number.isInteger(maxAttempts) || maxAttempts <= 0) {
      throw new InvalidInputError(`maxAttempts must be a positive integer, got ${maxAttempts}`, {
        field: "maxAttempts",
      });
    }
    if (typeof now !== "function") throw new InvalidInputError("now must be a function", { field: "now" });
    this.#client = client;
    this.#tableName = tableName;
    this.#leaseMs = leaseMs;
    this.#maxAttempts = maxAttempts;
    this.#now = now;
  }

  /**
   * Records a newly discovered granule as DISCOVERED, unless the table already holds it (its state
   * is never overwritten, so re-fetching a day is harmless).
   * @throws InvalidInputError on an empty id or a malformed day; InvalidHubDataError on a bad md5.
   */
  async recordDiscovered(
    granule: DiscoveredGranule,
    day: string,
    options: { countLater?: boolean } = {},
  ): Promise<{ recorded: boolean }> {
    requireText(granule.granuleId, "granuleId");
    requireDay(day);
    const now = this.#now().toISOString();
    const item: Item = {
      ...granuleKey(granule.granuleId),
      granuleId: granule.granuleId,
      name: granule.name,
      tileId: granule.tileId,
      platform: granule.platform,
      sensingStart: granule.sensingStart,
      sensingEnd: granule.sensingEnd,
      publishedAt: granule.publishedAt,
      sizeBytes: granule.sizeBytes,
      day,
      [INDEX.partitionKey]: dayShardOf(day, granule.granuleId),
      status: "DISCOVERED" satisfies GranuleStatus,
      attempts: 0,
      createdAt: now,
      updatedAt: now,
    };
    if (granule.md5 !== undefined) {
      item["md5"] = normalizeMd5(granule.md5, { granuleId: granule.granuleId });
      item["checksum"] = { algorithm: "MD5", value: item["md5"], fetchedAt: now };
    }
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: item,
          ConditionExpression: "attribute_not_exists(#pk)",
          ExpressionAttributeNames: attributeNames(PK),
        }),
      );
    } catch (error) {
      if (isConditionFailed(error)) return { recorded: false };
      throw withContext(error, `recordDiscovered ${granule.granuleId}`);
    }
    // Counted after the put, not in a transaction (dynalite has none): a crash in between leaves the
    // counter one short, which can hide a loss but never raises a false ManifestIncompleteError.
    // The link fetcher counts a page's puts at once (`countLater`, then recordFetchProgress's recordedDelta).
    if (options.countLater !== true) {
      await this.#addToCounter(
        day,
        granule.platform,
        { recorded: 1 },
        `recordDiscovered ${granule.granuleId}`,
      );
    }
    return { recorded: true };
  }

  /** Reads a granule (strongly consistent), or undefined when the table does not hold it. */
  async getGranule(granuleId: string): Promise<GranuleRecord | undefined> {
    requireText(granuleId, "granuleId");
    try {
      const { Item: item } = await this.#client.send(
        new GetCommand({ TableName: this.#tableName, Key: granuleKey(granuleId), ConsistentRead: true }),
      );
      return item === undefined ? undefined : toRecord(item);
    } catch (error) {
      throw withContext(error, `getGranule ${granuleId}`);
    }
  }

  /**
   * Claims a granule for download: DISCOVERED, FAILED or an expired lease become DOWNLOADING with a
   * fresh lease and one more attempt; the caller's own lease (a retried child execution) is renewed.
   * @throws GranuleNotFoundError when the table does not hold the granule.
   */
  async claimGranule(granuleId: string, owner: string): Promise<ClaimResult> {
    requireText(granuleId, "granuleId");
    requireText(owner, "owner");
    let current: GranuleRecord | undefined;
    for (let round = 0; round < CLAIM_ROUNDS; round++) {
      const nowMs = this.#now().getTime();
      // A Step Functions Retry of the same child execution re-claims its own live lease, or the FAILED
      // record its previous try left (the Download step records every failure before it throws, and a
      // Redrive restarts that same child execution): the same attempt continuing (often resuming its
      // upload), so it takes the lease without counting an attempt.
      const renewed = await this.#conditionalUpdate(`claimGranule ${granuleId}`, {
        Key: granuleKey(granuleId),
        UpdateExpression:
          "SET #status = :downloading, #leaseOwner = :owner, #leaseExpiresAt = :expires, #updatedAt = :now",
        ConditionExpression:
          "(#status = :downloading AND #leaseOwner = :owner) OR (#status = :failed AND #failedBy = :owner)",
        ExpressionAttributeNames: attributeNames(
          "status",
          "leaseOwner",
          "leaseExpiresAt",
          "updatedAt",
          "failedBy",
        ),
        ExpressionAttributeValues: {
          ":downloading": "DOWNLOADING",
          ":failed": "FAILED",
          ":owner": owner,
          ":expires": nowMs + this.#leaseMs,
          ":now": new Date(nowMs).toISOString(),
        },
      });
      if (renewed !== undefined) return { outcome: "claimed", granule: renewed };
      const claimed = await this.#conditionalUpdate(`claimGranule ${granuleId}`, {
        Key: granuleKey(granuleId),
        UpdateExpression:
          "SET #status = :downloading, #leaseOwner = :owner, #leaseExpiresAt = :expires, #updatedAt = :now ADD #attempts :one",
        // Claimable: never leased, failed, leased by a worker that is gone, or leased by this very owner.
        ConditionExpression:
          "attribute_exists(#pk) AND (#status IN (:discovered, :failed) OR (#status = :downloading AND #leaseExpiresAt < :nowMs))",
        ExpressionAttributeNames: attributeNames(
          PK,
          "status",
          "leaseOwner",
          "leaseExpiresAt",
          "updatedAt",
          "attempts",
        ),
        ExpressionAttributeValues: {
          ":downloading": "DOWNLOADING",
          ":discovered": "DISCOVERED",
          ":failed": "FAILED",
          ":owner": owner,
          ":expires": nowMs + this.#leaseMs,
          ":nowMs": nowMs,
          ":now": new Date(nowMs).toISOString(),
          ":one": 1,
        },
      });
      if (claimed !== undefined) return { outcome: "claimed", granule: claimed };
      // The condition failed: read the item to tell the caller why (dynalite returns no ALL_OLD item).
      current = await this.getGranule(granuleId);
      if (current === undefined) throw new GranuleNotFoundError(granuleId);
      if (current.status === "DOWNLOADED") return { outcome: "already-downloaded", granule: current };
      const liveLease =
        current.status === "DOWNLOADING" &&
        current.leaseOwner !== owner &&
        (current.leaseExpiresAt ?? 0) >= this.#now().getTime();
      if (liveLease) return { outcome: "leased", granule: current };
      // Otherwise the item changed between our write and our read (a lease ended): claim again.
    }
    return { outcome: "leased", granule: current! };
  }

  /**
   * Extends the caller's lease by the lease duration from now.
   * @returns the new lease expiry, epoch milliseconds.
   * @throws LeaseLostError when the caller no longer holds the lease; GranuleNotFoundError.
   */
  async renewLease(granuleId: string, owner: string): Promise<number> {
    const nowMs = this.#now().getTime();
    const expires = nowMs + this.#leaseMs;
    await this.#leaseHolderUpdate("renewLease", granuleId, owner, {
      UpdateExpression: "SET #leaseExpiresAt = :expires, #updatedAt = :now",
      names: ["leaseExpiresAt", "updatedAt"],
      values: { ":expires": expires, ":now": new Date(nowMs).toISOString() },
    });
    return expires;
  }

  /**
   * Stores the hub's MD5 of a granule the caller holds.
   * @throws InvalidHubDataError when `md5` is not 32 hex characters; LeaseLostError; GranuleNotFoundError.
   */
  async recordChecksum(granuleId: string, owner: string, md5: string): Promise<void> {
    const value = normalizeMd5(md5, { granuleId });
    const now = this.#now().toISOString();
    await this.#leaseHolderUpdate("recordChecksum", granuleId, owner, {
      UpdateExpression: "SET #checksum = :checksum, #updatedAt = :now",
      names: ["checksum", "updatedAt"],
      values: { ":checksum": { algorithm: "MD5", value, fetchedAt: now }, ":now": now },
    });
  }

  /**
   * Saves (or with null, forgets) the resume state of the caller's multipart upload.
   * @throws LeaseLostError when the caller no longer holds the lease; GranuleNotFoundError.
   */
  async saveUploadProgress(granuleId: string, owner: string, progress: UploadProgress | null): Promise<void> {
    const now = this.#now().toISOString();
    await this.#leaseHolderUpdate(
      "saveUploadProgress",
      granuleId,
      owner,
      progress === null
        ? {
            UpdateExpression: "SET #updatedAt = :now REMOVE #upload",
            names: ["updatedAt", "upload"],
            values: { ":now": now },
          }
        : {
            UpdateExpression: "SET #upload = :upload, #updatedAt = :now",
            // Never over an upload the sweeper marked abandoned: it may be aborting it right now, and a
            // completing record on an aborted upload would later read NoSuchUpload as "completed".
            condition: "(attribute_not_exists(#upload.#abandonedAt) OR #upload.#uploadId <> :uploadId)",
            names: ["upload", "updatedAt", "abandonedAt", "uploadId"],
            values: { ":upload": progress, ":now": now, ":uploadId": progress.uploadId },
          },
    );
  }

  /**
   * The sweeper's claim on an upload it is about to abort: marks `upload.abandonedAt` only while the
   * granule is still in the status the sweeper saw (for DOWNLOADING, with its lease expired before
   * `leaseExpiredBefore`), the upload is the same and it is not completing. A worker claiming the
   * granule serializes with this write, so no worker ever resumes (or completes) an upload the
   * sweeper aborts.
   * @returns whether the upload is now marked (false: the granule moved on, leave it).
   */
  async markUploadAbandoned(
    granuleId: string,
    uploadId: string,
    expected: { status: GranuleStatus; leaseExpiredBefore?: number },
  ): Promise<boolean> {
    requireText(granuleId, "granuleId");
    requireText(uploadId, "uploadId");
    const values: Record<string, unknown> = {
      ":status": expected.status,
      ":uploadId": uploadId,
      ":now": this.#now().getTime(),
    };
    let condition =
      "#status = :status AND #upload.#uploadId = :uploadId AND attribute_not_exists(#upload.#completing)";
    if (expected.leaseExpiredBefore !== undefined) {
      condition += " AND #leaseExpiresAt < :cutoff";
      values[":cutoff"] = expected.leaseExpiredBefore;
    }
    const updated = await this.#conditionalUpdate(`markUploadAbandoned ${granuleId}`, {
      Key: granuleKey(granuleId),
      UpdateExpression: "SET #upload.#abandonedAt = :now",
      ConditionExpression: condition,
      ExpressionAttributeNames: attributeNames(
        "status",
        "upload",
        "uploadId",
        "completing",
        "abandonedAt",
        ...(expected.leaseExpiredBefore === undefined ? [] : ["leaseExpiresAt"]),
      ),
      ExpressionAttributeValues: values,
    });
    return updated !== undefined;
  }

  /**
   * Drops an upload the sweeper marked abandoned and aborted, if the granule still records that one.
   * @returns whether it was removed.
   */
  async forgetAbandonedUpload(granuleId: string, uploadId: string): Promise<boolean> {
    requireText(granuleId, "granuleId");
    requireText(uploadId, "uploadId");
    const updated = await this.#conditionalUpdate(`forgetAbandonedUpload ${granuleId}`, {
      Key: granuleKey(granuleId),
      UpdateExpression: "SET #updatedAt = :now REMOVE #upload",
      ConditionExpression: "#upload.#uploadId = :uploadId AND attribute_exists(#upload.#abandonedAt)",
      ExpressionAttributeNames: attributeNames("upload", "uploadId", "abandonedAt", "updatedAt"),
      ExpressionAttributeValues: { ":uploadId": uploadId, ":now": this.#now().toISOString() },
    });
    return updated !== undefined;
  }

  /**
   * Marks the caller's granule DOWNLOADED (terminal) and drops its lease, resume state and last error.
   * Repeating the call with the same key after it succeeded is a no-op.
   * @throws LeaseLostError when the caller does not hold the lease; GranuleNotFoundError.
   */
  async markDownloaded(
    granuleId: string,
    owner: string,
    result: { s3Key: string; bytesWritten: number },
  ): Promise<void> {
    requireText(result.s3Key, "s3Key");
    requireCount(result.bytesWritten, "bytesWritten");
    const now = this.#now().toISOString();
    try {
      await this.#leaseHolderUpdate("markDownloaded", granuleId, owner, {
        UpdateExpression:
          "SET #status = :downloaded, #s3Key = :s3Key, #bytesWritten = :bytes, #downloadedAt = :now, #updatedAt = :now REMOVE #leaseOwner, #leaseExpiresAt, #upload, #lastError",
        names: [
          "s3Key",
          "bytesWritten",
          "downloadedAt",
          "updatedAt",
          "leaseExpiresAt",
          "upload",
          "lastError",
        ],
        values: {
          ":downloaded": "DOWNLOADED",
          ":s3Key": result.s3Key,
          ":bytes": result.bytesWritten,
          ":now": now,
        },
      });
    } catch (error) {
      // An SDK-level retry of a write that did land must not turn success into a lost lease.
      if (error instanceof LeaseLostError) {
        const current = await this.getGranule(granuleId);
        if (current?.status === "DOWNLOADED" && current.s3Key === result.s3Key) return;
      }
      throw error;
    }
  }

  /**
   * Marks a granule FAILED with the error's name and message and drops its lease; keeps the upload
   * resume state so a later attempt continues. Never touches a DOWNLOADED granule: it is returned as is.
   * With `owner`, the write happens only if the caller holds the lease, the lease expired, or there is none.
   * @throws LeaseLostError when another worker holds a live lease; GranuleNotFoundError.
   */
  async markFailed(
    granuleId: string,
    error: GranuleError,
    options: { owner?: string } = {},
  ): Promise<GranuleRecord> {
    requireText(granuleId, "granuleId");
    const { owner } = options;
    if (owner !== undefined) requireText(owner, "owner");
    const lastError: GranuleError = {
      name: truncate(requireText(error.name, "error.name"), MAX_ERROR_NAME_LENGTH),
      message: truncate(String(error.message ?? ""), MAX_ERROR_MESSAGE_LENGTH),
    };
    const nowMs = this.#now().getTime();
    const values: Record<string, unknown> = {
      ":failed": "FAILED",
      ":downloaded": "DOWNLOADED",
      ":lastError": lastError,
      ":now": new Date(nowMs).toISOString(),
      ":failedAtMs": nowMs,
    };
    // A checksum mismatch remembers which executions it ended (a set: every attempt of one child
    // execution records its failure, and its Retries and Redrive keep its id), so listPending can give
    // it exactly one late try from a later run (see MISMATCH_RETRY_AFTER_MS).
    const mismatch = (MISMATCH_ERROR_NAMES as readonly string[]).includes(lastError.name);
    if (mismatch) values[":mismatchOwner"] = new Set([owner ?? "(no owner)"]);
    const countMismatch = mismatch ? " ADD #mismatchOwners :mismatchOwner" : "";
    let condition = "attribute_exists(#pk) AND #status <> :downloaded";
    // The failing owner is kept so its own Retry or Redrive re-claims the granule (see claimGranule).
    let update = `SET #status = :failed, #lastError = :lastError, #updatedAt = :now, #failedAtMs = :failedAtMs${countMismatch} REMOVE #leaseOwner, #leaseExpiresAt, #failedBy`;
    if (owner !== undefined) {
      condition +=
        " AND (attribute_not_exists(#leaseOwner) OR #leaseOwner = :owner OR #leaseExpiresAt < :nowMs)";
      update = `SET #status = :failed, #lastError = :lastError, #updatedAt = :now, #failedAtMs = :failedAtMs, #failedBy = :owner${countMismatch} REMOVE #leaseOwner, #leaseExpiresAt`;
      values[":owner"] = owner;
      values[":nowMs"] = nowMs;
    }
    const updated = await this.#conditionalUpdate(`markFailed ${granuleId}`, {
      Key: granuleKey(granuleId),
      UpdateExpression: update,
      ConditionExpression: condition,
      ExpressionAttributeNames: attributeNames(
        PK,
        "status",
        "lastError",
        "updatedAt",
        "failedAtMs",
        "leaseOwner",
        "leaseExpiresAt",
        "failedBy",
        ...(mismatch ? ["mismatchOwners"] : []),
      ),
      ExpressionAttributeValues: values,
    });
    if (updated !== undefined) return updated;
    const current = await this.getGranule(granuleId);
    if (current === undefined) throw new GranuleNotFoundError(granuleId);
    if (current.status === "DOWNLOADED") return current;
    throw new LeaseLostError(granuleId, owner ?? "");
  }

  /** Lists a day's granules in one status through the (day, status) index, following every page up to `limit`. */
  async listByStatus(
    day: string,
    status: GranuleStatus,
    options: { limit?: number } = {},
  ): Promise<GranuleRecord[]> {
    let { limit } = options;
    limit ??= Number.POSITIVE_INFINITY;
    if (!(limit > 0)) throw new InvalidInputError(`limit must be positive, got ${limit}`, { field: "limit" });
    return this.#queryStatus(day, status, { limit });
  }

  /**
   * Lists what a download run should attempt for a day: DISCOVERED, FAILED for a reason that is not
   * terminal with attempts left, a checksum mismatch once more a day after it failed, and DOWNLOADING
   * whose lease expired (its worker is gone). A terminal failure stays out until `requeueGranule`.
   */
  async listPending(day: string, options: { now?: Date } = {}): Promise<GranuleRecord[]> {
    let { now } = options;
    now ??= this.#now();
    const nowMs = now.getTime();
    const [discovered, failed, stale] = await Promise.all([
      this.#queryStatus(day, "DISCOVERED"),
      this.#queryStatus(day, "FAILED", this.#pendingFailedFilter(nowMs)),
      this.#queryStatus(day, "DOWNLOADING", {
        filter: "#leaseExpiresAt < :nowMs",
        names: ["leaseExpiresAt"],
        values: { ":nowMs": nowMs },
      }),
    ]);
    return [...discovered, ...failed, ...stale];
  }

  /**
   * listPending, checked: also counts every granule item the status index holds for the day and
   * reads the per (day, platform) `recorded` counters, so a caller can tell when the index (or its
   * paging) shows fewer granules than were recorded.
   */
  async listPendingReconciled(day: string, options: { now?: Date } = {}): Promise<ReconciledPending> {
    const [granules, counts, progress] = await Promise.all([
      this.listPending(day, options),
      this.countByStatus(day),
      Promise.all(PLATFORMS.map((platform) => this.getFetchProgress(day, platform))),
    ]);
    return {
      granules,
      indexed: GRANULE_STATUSES.reduce((sum, status) => sum + counts[status], 0),
      recorded: progress.reduce((sum, p) => sum + (p?.recorded ?? 0), 0),
    };
  }

  /** Counts a day's granules in every status (COUNT queries on every shard of the index, no items read). */
  async countByStatus(day: string): Promise<Record<GranuleStatus, number>> {
    requireDay(day);
    const counts = await Promise.all(
      GRANULE_STATUSES.map(async (status) => {
        const perShard = await Promise.all(
          dayShardsOf(day).map(async (dayShard) => {
            let count = 0;
            let startKey: Record<string, unknown> | undefined;
            do {
              const page = await this.#query(`countByStatus ${day} ${status}`, {
                ...this.#statusQuery(dayShard, status),
                Select: "COUNT",
                ExclusiveStartKey: startKey,
              });
              count += page.Count ?? 0;
              startKey = page.LastEvaluatedKey;
            } while (startKey !== undefined);
            return count;
          }),
        );
        return [status, perShard.reduce((a, b) => a + b, 0)] as const;
      }),
    );
    return Object.fromEntries(counts) as Record<GranuleStatus, number>;
  }

  /**
   * One-off migration for a table written before the status index was sharded: gives every granule
   * item that lacks it its `dayShard`, so the index shows it. Idempotent (a conditional write per
   * item); a full Scan, so run it once, between daily runs.
   * @returns how many items it updated.
   */
  async addMissingShardKeys(): Promise<number> {
    let updated = 0;
    const pages = paginateScan(
      { client: this.#client },
      {
        TableName: this.#tableName,
        FilterExpression:
          "begins_with(#pk, :granule) AND attribute_not_exists(#dayShard) AND attribute_exists(#day)",
        ExpressionAttributeNames: { "#pk": PK, "#dayShard": INDEX.partitionKey, "#day": "day" },
        ExpressionAttributeValues: { ":granule": "granule#" },
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        const { granuleId, day } = item as { granuleId?: unknown; day?: unknown };
        if (typeof granuleId !== "string" || typeof day !== "string") continue;
        const done = await this.#conditionalUpdate(`addMissingShardKeys ${granuleId}`, {
          Key: granuleKey(granuleId),
          UpdateExpression: "SET #dayShard = :dayShard",
          ConditionExpression: "attribute_exists(#pk) AND attribute_not_exists(#dayShard)",
          ExpressionAttributeNames: { "#pk": PK, "#dayShard": INDEX.partitionKey },
          ExpressionAttributeValues: { ":dayShard": dayShardOf(day, granuleId) },
        });
        if (done !== undefined) updated += 1;
      }
    }
    return updated;
  }

  /**
   * FAILED granules a run should try again: a failure whose name is not terminal (retries ran out,
   * a timeout) while attempts are left, or a first checksum mismatch older than MISMATCH_RETRY_AFTER_MS.
   */
  #pendingFailedFilter(nowMs: number) {
    const terminal = TERMINAL_ERROR_NAMES.map((_, i) => `:terminal${i}`);
    const values: Record<string, unknown> = Object.fromEntries(
      TERMINAL_ERROR_NAMES.map((name, i) => [`:terminal${i}`, name]),
    );
    return {
      // `#lastError.#errorName` of an item without lastError is absent: NOT IN is then true (retry it).
      filter:
        `(#attempts < :maxAttempts AND NOT (#lastError.#errorName IN (${terminal.join(", ")})))` +
        " OR (#lastError.#errorName = :mismatch AND size(#mismatchOwners) = :oneMismatch AND #failedAtMs < :mismatchCutoff)",
      names: ["attempts", "lastError", "mismatchOwners", "failedAtMs"],
      extraNames: { "#errorName": "name" },
      values: {
        ...values,
        ":maxAttempts": this.#maxAttempts,
        ":mismatch": MISMATCH_ERROR_NAMES[0],
        ":oneMismatch": 1,
        ":mismatchCutoff": nowMs - MISMATCH_RETRY_AFTER_MS,
      },
    };
  }

  /**
   * Puts a FAILED granule, or one whose lease expired, back to DISCOVERED with its attempts reset
   * (an operator's decision); keeps its last error and upload resume state.
   * @returns whether it was requeued, and the granule as it now is.
   * @throws GranuleNotFoundError when the table does not hold the granule.
   */
  async requeueGranule(granuleId: string): Promise<{ requeued: boolean; granule: GranuleRecord }> {
    requireText(granuleId, "granuleId");
    const nowMs = this.#now().getTime();
    const updated = await this.#conditionalUpdate(`requeueGranule ${granuleId}`, {
      Key: granuleKey(granuleId),
      UpdateExpression:
        "SET #status = :discovered, #attempts = :zero, #updatedAt = :now REMOVE #leaseOwner, #leaseExpiresAt, #mismatchOwners, #failedAtMs",
      ConditionExpression: "#status = :failed OR (#status = :downloading AND #leaseExpiresAt < :nowMs)",
      ExpressionAttributeNames: attributeNames(
        "status",
        "attempts",
        "updatedAt",
        "leaseOwner",
        "leaseExpiresAt",
        "mismatchOwners",
        "failedAtMs",
      ),
      ExpressionAttributeValues: {
        ":discovered": "DISCOVERED",
        ":failed": "FAILED",
        ":downloading": "DOWNLOADING",
        ":zero": 0,
        ":nowMs": nowMs,
        ":now": new Date(nowMs).toISOString(),
      },
    });
    if (updated !== undefined) return { requeued: true, granule: updated };
    const current = await this.getGranule(granuleId);
    if (current === undefined) throw new GranuleNotFoundError(granuleId);
    return { requeued: false, granule: current };
  }

  /**
   * Records one step of a (day, platform) search: what the hub reports available, how many entries
   * this step read (added to the running total) and where to resume.
   * @throws InvalidInputError on a malformed day, platform or count.
   */
  async recordFetchProgress(
    day: string,
    platform: Platform,
    update: FetchProgressUpdate,
  ): Promise<FetchProgress> {
    requireDay(day);
    this.#requirePlatform(platform);
    requireCount(update.available, "available");
    requireCount(update.fetchedDelta, "fetchedDelta");
    requireCount(update.nextOffset, "nextOffset");
    if (typeof update.finished !== "boolean") {
      throw new InvalidInputError("finished must be a boolean", { field: "finished" });
    }
    const counters = filteredAttributes(update.filteredDelta ?? {});
    if (update.recordedDelta !== undefined && requireCount(update.recordedDelta, "recordedDelta") > 0) {
      counters["recorded"] = update.recordedDelta;
    }
    const counterAdds = Object.keys(counters).map((attribute) => `, #${attribute} :${attribute}`);
    try {
      const { Attributes: item } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: fetchKey(day, platform),
          // ADD keeps the running total right even if two invocations of one search overlapped.
          UpdateExpression: `SET #day = :day, #platform = :platform, #available = :available, #nextOffset = :nextOffset, #finished = :finished, #lastFetchAt = :now ADD #fetched :delta${counterAdds.join("")}`,
          ExpressionAttributeNames: attributeNames(
            "day",
            "platform",
            "available",
            "nextOffset",
            "finished",
            "lastFetchAt",
            "fetched",
            ...Object.keys(counters),
          ),
          ExpressionAttributeValues: {
            ":day": day,
            ":platform": platform,
            ":available": update.available,
            ":nextOffset": update.nextOffset,
            ":finished": update.finished,
            ":now": this.#now().toISOString(),
            ":delta": update.fetchedDelta,
            ...Object.fromEntries(Object.entries(counters).map(([attribute, n]) => [`:${attribute}`, n])),
          },
          ReturnValues: "ALL_NEW",
        }),
      );
      return toFetchProgress(item ?? {});
    } catch (error) {
      throw withContext(error, `recordFetchProgress ${day} ${platform}`);
    }
  }

  /** Reads the progress of a (day, platform) search, or undefined before its first page. */
  async getFetchProgress(day: string, platform: Platform): Promise<FetchProgress | undefined> {
    requireDay(day);
    this.#requirePlatform(platform);
    try {
      const { Item: item } = await this.#client.send(
        new GetCommand({ TableName: this.#tableName, Key: fetchKey(day, platform), ConsistentRead: true }),
      );
      return item === undefined ? undefined : toFetchProgress(item);
    } catch (error) {
      throw withContext(error, `getFetchProgress ${day} ${platform}`);
    }
  }

  /** ADDs to a (day, platform) counter item, creating it when absent (ADD treats a missing number as 0). */
  async #addToCounter(day: string, platform: Platform, add: { recorded: number }, context: string) {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: fetchKey(day, platform),
          UpdateExpression: "SET #day = :day, #platform = :platform ADD #recorded :recorded",
          ExpressionAttributeNames: attributeNames("day", "platform", "recorded"),
          ExpressionAttributeValues: { ":day": day, ":platform": platform, ":recorded": add.recorded },
        }),
      );
    } catch (error) {
      throw withContext(error, context);
    }
  }

  #requirePlatform(platform: unknown): void {
    if (!isPlatform(platform)) {
      throw new InvalidInputError(
        `platform must be a Sentinel-2 platform (${PLATFORMS.join(", ")}, … S2[A-Z]), got ${String(platform)}`,
        {
          field: "platform",
        },
      );
    }
  }

  /** Runs a conditional UpdateItem; the new record, or undefined when the condition failed. */
  async #conditionalUpdate(
    context: string,
    input: Omit<UpdateCommandInput, "TableName" | "ReturnValues">,
  ): Promise<GranuleRecord | undefined> {
    try {
      const { Attributes: item } = await this.#client.send(
        new UpdateCommand({ ...input, TableName: this.#tableName, ReturnValues: "ALL_NEW" }),
      );
      return toRecord(item ?? {});
    } catch (error) {
      if (isConditionFailed(error)) return undefined;
      throw withContext(error, context);
    }
  }

  /** An update allowed only to the worker holding the DOWNLOADING lease. */
  async #leaseHolderUpdate(
    operation: string,
    granuleId: string,
    owner: string,
    update: {
      UpdateExpression: string;
      condition?: string;
      names: string[];
      values: Record<string, unknown>;
    },
  ): Promise<GranuleRecord> {
    requireText(granuleId, "granuleId");
    requireText(owner, "owner");
    const holder = "#leaseOwner = :owner AND #status = :downloading";
    const updated = await this.#conditionalUpdate(`${operation} ${granuleId}`, {
      Key: granuleKey(granuleId),
      UpdateExpression: update.UpdateExpression,
      ConditionExpression: update.condition === undefined ? holder : `${holder} AND ${update.condition}`,
      ExpressionAttributeNames: attributeNames(...new Set(["leaseOwner", "status", ...update.names])),
      ExpressionAttributeValues: { ...update.values, ":owner": owner, ":downloading": "DOWNLOADING" },
    });
    if (updated !== undefined) return updated;
    if ((await this.getGranule(granuleId)) === undefined) throw new GranuleNotFoundError(granuleId);
    throw new LeaseLostError(granuleId, owner);
  }

  #statusQuery(dayShard: string, status: GranuleStatus): Omit<QueryCommandInput, "TableName"> {
    return {
      IndexName: INDEX.name,
      KeyConditionExpression: "#dayShard = :dayShard AND #status = :status",
      ExpressionAttributeNames: { "#dayShard": INDEX.partitionKey, "#status": INDEX.sortKey },
      ExpressionAttributeValues: { ":dayShard": dayShard, ":status": status },
    };
  }

  /** Reads one status of a day from every shard of the index (one after another, so `limit` holds), every page. */
  async #queryStatus(
    day: string,
    status: GranuleStatus,
    options: {
      filter?: string;
      names?: string[];
      extraNames?: Record<string, string>;
      values?: Record<string, unknown>;
      limit?: number;
    } = {},
  ): Promise<GranuleRecord[]> {
    requireDay(day);
    const records: GranuleRecord[] = [];
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    for (const dayShard of dayShardsOf(day)) {
      const base = this.#statusQuery(dayShard, status);
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await this.#query(`listByStatus ${day} ${status}`, {
          ...base,
          ...(options.filter !== undefined && { FilterExpression: options.filter }),
          ExpressionAttributeNames: {
            ...base.ExpressionAttributeNames,
            ...attributeNames(...(options.names ?? [])),
            ...options.extraNames,
          },
          ExpressionAttributeValues: { ...base.ExpressionAttributeValues, ...options.values },
          ...(Number.isFinite(limit) && { Limit: limit - records.length }),
          ExclusiveStartKey: startKey,
        });
        for (const item of page.Items ?? []) records.push(toRecord(item));
        startKey = page.LastEvaluatedKey;
      } while (startKey !== undefined && records.length < limit);
      if (records.length >= limit) break;
    }
    return records;
  }

  async #query(context: string, input: Omit<QueryCommandInput, "TableName">) {
    try {
      return await this.#client.send(new QueryCommand({ ...input, TableName: this.#tableName }));
    } catch (error) {
      throw withContext(error, context);
    }
  }
}

/** The counter item's attribute for a filter reason, e.g. `filtered_tile` (flat: ADD cannot create a nested map). */
function filteredAttribute(reason: FilterReason): string {
  return `filtered_${reason}`;
}

function filteredAttributes(delta: Partial<Record<FilterReason, number>>): Record<string, number> {
  const attributes: Record<string, number> = {};
  for (const [reason, n] of Object.entries(delta)) {
    if (!(FILTER_REASONS as readonly string[]).includes(reason)) {
      throw new InvalidInputError(`unknown filter reason ${reason}`, { field: "filteredDelta" });
    }
    requireCount(n, `filteredDelta.${reason}`);
    if (n > 0) attributes[filteredAttribute(reason as FilterReason)] = n;
  }
  return attributes;
}

function toFetchProgress(item: Item): FetchProgress {
  return {
    available: Number(item["available"] ?? 0),
    fetched: Number(item["fetched"] ?? 0),
    nextOffset: Number(item["nextOffset"] ?? 0),
    finished: item["finished"] === true,
    lastFetchAt: String(item["lastFetchAt"] ?? ""),
    recorded: Number(item["recorded"] ?? 0),
    filtered: Object.fromEntries(
      FILTER_REASONS.map((reason) => [reason, Number(item[filteredAttribute(reason)] ?? 0)]),
    ) as Record<FilterReason, number>,
  };
}
