import { paginateScan, type QueryCommandInput } from "@aws-sdk/lib-dynamodb";
import {
  InvalidInputError,
  MISMATCH_ERROR_NAMES,
  TERMINAL_ERROR_NAMES,
  WAITING_ERROR_NAMES,
} from "../../domain/errors";
import {
  ALL_PLATFORM_IDS,
  dayShardOf,
  dayShardsOf,
  GRANULE_STATUSES,
  type GranuleRecord,
  type GranuleStatus,
} from "../../domain/granule";
import { getFetchProgress } from "./cursor";
import {
  attributeNames,
  conditionalUpdate,
  granuleKey,
  INDEX,
  PK,
  query,
  type StoreTable,
  toRecord,
} from "./dynamo";

// A day's granules read through the sharded (day, status) index: lists, counts and what a run should
// attempt (documented on GranuleStore's methods).

/** What listPendingReconciled read of a day: the pending granules and two independent counts to check them by. */
export interface ReconciledPending {
  granules: GranuleRecord[];
  /** Granule items the status index returned for the day, in every status (pending ones included). */
  indexed: number;
  /** Granules recorded for the day according to the per (day, platform) counter items. */
  recorded: number;
}

/**
 * A checksum mismatch is terminal for a run but gets one more try this long after it failed: ESA
 * corrects a wrongly published checksum, and the next attempt fetches the checksum again.
 */
export const MISMATCH_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

export async function listByStatus(
  table: StoreTable,
  day: string,
  status: GranuleStatus,
  options: { limit?: number } = {},
): Promise<GranuleRecord[]> {
  let { limit } = options;
  limit ??= Number.POSITIVE_INFINITY;
  if (!(limit > 0)) throw new InvalidInputError(`limit must be positive, got ${limit}`, { field: "limit" });
  return queryStatus(table, day, status, { limit });
}

export async function listPending(
  table: StoreTable,
  day: string,
  options: { now?: Date } = {},
): Promise<GranuleRecord[]> {
  let { now } = options;
  now ??= table.now();
  const nowMs = now.getTime();
  const [discovered, failed, stale] = await Promise.all([
    queryStatus(table, day, "DISCOVERED"),
    queryStatus(table, day, "FAILED", pendingFailedFilter(table, nowMs)),
    queryStatus(table, day, "DOWNLOADING", {
      filter: "#leaseExpiresAt < :nowMs",
      names: ["leaseExpiresAt"],
      values: { ":nowMs": nowMs },
    }),
  ]);
  return [...discovered, ...failed, ...stale];
}

export async function listPendingReconciled(
  table: StoreTable,
  day: string,
  options: { now?: Date } = {},
): Promise<ReconciledPending> {
  const [granules, counts, progress] = await Promise.all([
    listPending(table, day, options),
    countByStatus(table, day),
    // Every platform id the table may hold, so a granule of S2D is checked against its counter too.
    Promise.all(ALL_PLATFORM_IDS.map((platform) => getFetchProgress(table, day, platform))),
  ]);
  return {
    granules,
    indexed: GRANULE_STATUSES.reduce((sum, status) => sum + counts[status], 0),
    recorded: progress.reduce((sum, p) => sum + (p?.recorded ?? 0), 0),
  };
}

export async function countByStatus(table: StoreTable, day: string): Promise<Record<GranuleStatus, number>> {
  const counts = await Promise.all(
    GRANULE_STATUSES.map(async (status) => {
      const perShard = await Promise.all(
        dayShardsOf(day).map(async (dayShard) => {
          let count = 0;
          let startKey: Record<string, unknown> | undefined;
          do {
            const page = await query(table, `countByStatus ${day} ${status}`, {
              ...statusQuery(dayShard, status),
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

export async function addMissingShardKeys(table: StoreTable): Promise<number> {
  let updated = 0;
  const pages = paginateScan(
    { client: table.client },
    {
      TableName: table.tableName,
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
      const done = await conditionalUpdate(table, `addMissingShardKeys ${granuleId}`, {
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
 * a timeout) while attempts are left, a "not yet" answer (WAITING_ERROR_NAMES: waiting uses up no
 * attempt) whatever the attempts, or a first checksum mismatch older than MISMATCH_RETRY_AFTER_MS.
 */
function pendingFailedFilter(table: StoreTable, nowMs: number) {
  const terminal = TERMINAL_ERROR_NAMES.map((_, i) => `:terminal${i}`);
  const waiting = WAITING_ERROR_NAMES.map((_, i) => `:waiting${i}`);
  const values: Record<string, unknown> = {
    ...Object.fromEntries(TERMINAL_ERROR_NAMES.map((name, i) => [`:terminal${i}`, name])),
    ...Object.fromEntries(WAITING_ERROR_NAMES.map((name, i) => [`:waiting${i}`, name])),
  };
  const mismatch = MISMATCH_ERROR_NAMES.map((_, i) => `:mismatch${i}`);
  for (const [i, name] of MISMATCH_ERROR_NAMES.entries()) values[`:mismatch${i}`] = name;
  return {
    // `#lastError.#errorName` of an item without lastError is absent: NOT IN is then true (retry it).
    filter:
      `(#attempts < :maxAttempts AND NOT (#lastError.#errorName IN (${terminal.join(", ")})))` +
      ` OR #lastError.#errorName IN (${waiting.join(", ")})` +
      ` OR (#lastError.#errorName IN (${mismatch.join(", ")}) AND size(#mismatchOwners) = :oneMismatch AND #failedAtMs < :mismatchCutoff)`,
    names: ["attempts", "lastError", "mismatchOwners", "failedAtMs"],
    extraNames: { "#errorName": "name" },
    values: {
      ...values,
      ":maxAttempts": table.maxAttempts,
      ":oneMismatch": 1,
      ":mismatchCutoff": nowMs - MISMATCH_RETRY_AFTER_MS,
    },
  };
}

/** Reads one status of a day from every shard of the index (one after another, so `limit` holds), every page. */
async function queryStatus(
  table: StoreTable,
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
  const records: GranuleRecord[] = [];
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  for (const dayShard of dayShardsOf(day)) {
    const base = statusQuery(dayShard, status);
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await query(table, `listByStatus ${day} ${status}`, {
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

function statusQuery(dayShard: string, status: GranuleStatus): Omit<QueryCommandInput, "TableName"> {
  return {
    IndexName: INDEX.name,
    KeyConditionExpression: "#dayShard = :dayShard AND #status = :status",
    ExpressionAttributeNames: { "#dayShard": INDEX.partitionKey, "#status": INDEX.sortKey },
    ExpressionAttributeValues: { ":dayShard": dayShard, ":status": status },
  };
}
