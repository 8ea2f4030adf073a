import { randomUUID } from "node:crypto";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { isValidDay } from "../../domain/day";
import {
  GranuleNotFoundError,
  InvalidInputError,
  LeaseLostError,
  MISMATCH_ERROR_NAMES,
  WAITING_ERROR_NAMES,
} from "../../domain/errors";
import { normalizeMd5 } from "../../domain/filters";
import {
  claimBlocker,
  type DiscoveredGranule,
  dayShardOf,
  type GranuleError,
  type GranuleRecord,
  type GranuleStatus,
} from "../../domain/granule";
import { countRecorded } from "./cursor";
import {
  attributeNames,
  conditionalUpdate,
  granuleKey,
  INDEX,
  type Item,
  isConditionFailed,
  PK,
  type StoreTable,
  toRecord,
  withContext,
} from "./dynamo";

// The granule lifecycle, one conditional write per transition (documented on GranuleStore's methods):
// DISCOVERED → DOWNLOADING (claimed, under a lease) → DOWNLOADED, or FAILED and claimed again.

export type ClaimResult =
  | { outcome: "claimed"; granule: GranuleRecord }
  | { outcome: "already-downloaded"; granule: GranuleRecord }
  | { outcome: "leased"; granule: GranuleRecord };

const MAX_ERROR_MESSAGE_LENGTH = 1000;
const MAX_ERROR_NAME_LENGTH = 200;
// A claim whose condition fails because the item moved between write and read is retried this often.
const CLAIM_ROUNDS = 3;

export async function recordDiscovered(
  table: StoreTable,
  granule: DiscoveredGranule,
  day: string,
  options: { countLater?: boolean } = {},
): Promise<{ recorded: boolean }> {
  // The one check a store entry keeps: a day that parses but is not on the calendar never makes a key.
  if (!isValidDay(day)) {
    throw new InvalidInputError(`day must be YYYY-MM-DD, got ${JSON.stringify(day)}`, { field: "day" });
  }
  const now = table.now().toISOString();
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
    // Which put created the item: a retried put whose first try applied (its answer lost) finds its own.
    discoveredBy: randomUUID(),
  };
  if (granule.md5 !== undefined) {
    item["md5"] = normalizeMd5(granule.md5, { granuleId: granule.granuleId });
    item["checksum"] = { algorithm: "MD5", value: item["md5"], fetchedAt: now };
  }
  try {
    await table.client.send(
      new PutCommand({
        TableName: table.tableName,
        Item: item,
        ConditionExpression: "attribute_not_exists(#pk)",
        ExpressionAttributeNames: attributeNames(PK),
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      }),
    );
  } catch (error) {
    if (!isConditionFailed(error)) throw withContext(error, `recordDiscovered ${granule.granuleId}`);
    // DynamoDB returns the item that failed the condition; a stand-in that does not is asked once.
    const existing = (error as { Item?: Item }).Item ?? (await getItem(table, granule.granuleId));
    if (existing?.["discoveredBy"] !== item["discoveredBy"]) return { recorded: false };
  }
  // Counted after the put, not in a transaction (dynalite has none): a crash in between leaves the
  // counter one short, which can hide a loss but never makes WriteManifest recount a day.
  // The link fetcher counts a page's puts at once (`countLater`, then recordFetchProgress's recordedDelta).
  if (options.countLater !== true) {
    await countRecorded(
      table,
      day,
      granule.platform,
      { n: 1, token: granule.granuleId },
      `recordDiscovered ${granule.granuleId}`,
    );
  }
  return { recorded: true };
}

export async function getGranule(table: StoreTable, granuleId: string): Promise<GranuleRecord | undefined> {
  const item = await getItem(table, granuleId);
  return item === undefined ? undefined : toRecord(item);
}

async function getItem(table: StoreTable, granuleId: string): Promise<Item | undefined> {
  try {
    const { Item: item } = await table.client.send(
      new GetCommand({ TableName: table.tableName, Key: granuleKey(granuleId), ConsistentRead: true }),
    );
    return item;
  } catch (error) {
    throw withContext(error, `getGranule ${granuleId}`);
  }
}

export async function claimGranule(
  table: StoreTable,
  granuleId: string,
  owner: string,
): Promise<ClaimResult> {
  let current: GranuleRecord | undefined;
  for (let round = 0; round < CLAIM_ROUNDS; round++) {
    const nowMs = table.now().getTime();
    // A Step Functions Retry of the same child execution re-claims its own live lease, or the FAILED
    // record its previous try left (the Download step records every failure before it throws, and a
    // Redrive restarts that same child execution): the same attempt continuing (often resuming its
    // upload), so it takes the lease without counting an attempt. So does any owner after a "not yet"
    // answer (WAITING_ERROR_NAMES): the attempt that waited is taken up again, not a new one.
    const waiting = WAITING_ERROR_NAMES.map((_, i) => `:waiting${i}`);
    const renewed = await conditionalUpdate(table, `claimGranule ${granuleId}`, {
      Key: granuleKey(granuleId),
      UpdateExpression:
        "SET #status = :downloading, #leaseOwner = :owner, #leaseExpiresAt = :expires, #updatedAt = :now",
      ConditionExpression: `(#status = :downloading AND #leaseOwner = :owner) OR (#status = :failed AND (#failedBy = :owner OR #lastError.#errorName IN (${waiting.join(", ")})))`,
      ExpressionAttributeNames: {
        ...attributeNames("status", "leaseOwner", "leaseExpiresAt", "updatedAt", "failedBy", "lastError"),
        "#errorName": "name",
      },
      ExpressionAttributeValues: {
        ":downloading": "DOWNLOADING",
        ":failed": "FAILED",
        ":owner": owner,
        ":expires": nowMs + table.leaseMs,
        ":now": new Date(nowMs).toISOString(),
        ...Object.fromEntries(WAITING_ERROR_NAMES.map((name, i) => [`:waiting${i}`, name])),
      },
    });
    if (renewed !== undefined) return { outcome: "claimed", granule: renewed };
    const claimed = await conditionalUpdate(table, `claimGranule ${granuleId}`, {
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
        ":expires": nowMs + table.leaseMs,
        ":nowMs": nowMs,
        ":now": new Date(nowMs).toISOString(),
        ":one": 1,
      },
    });
    if (claimed !== undefined) return { outcome: "claimed", granule: claimed };
    // The condition failed: read the item to tell the caller why (dynalite returns no ALL_OLD item).
    current = await getGranule(table, granuleId);
    if (current === undefined) throw new GranuleNotFoundError(granuleId);
    const blocker = claimBlocker(current, owner, table.now().getTime());
    if (blocker !== undefined) return { outcome: blocker, granule: current };
    // Otherwise the item changed between our write and our read (a lease ended): claim again.
  }
  return { outcome: "leased", granule: current! };
}

export async function renewLease(table: StoreTable, granuleId: string, owner: string): Promise<number> {
  const nowMs = table.now().getTime();
  const expires = nowMs + table.leaseMs;
  await leaseHolderUpdate(table, "renewLease", granuleId, owner, {
    UpdateExpression: "SET #leaseExpiresAt = :expires, #updatedAt = :now",
    names: ["leaseExpiresAt", "updatedAt"],
    values: { ":expires": expires, ":now": new Date(nowMs).toISOString() },
  });
  return expires;
}

export async function requeueGranule(
  table: StoreTable,
  granuleId: string,
  options: { forgetUpload?: boolean } = {},
): Promise<{ requeued: boolean; granule: GranuleRecord }> {
  const nowMs = table.now().getTime();
  // Forgetting the upload (an operator confirmed the object is missing) lets the next attempt upload afresh.
  const forget = options.forgetUpload === true ? ", #upload" : "";
  const updated = await conditionalUpdate(table, `requeueGranule ${granuleId}`, {
    Key: granuleKey(granuleId),
    UpdateExpression: `SET #status = :discovered, #attempts = :zero, #updatedAt = :now REMOVE #leaseOwner, #leaseExpiresAt, #mismatchOwners, #failedAtMs${forget}`,
    ConditionExpression: "#status = :failed OR (#status = :downloading AND #leaseExpiresAt < :nowMs)",
    ExpressionAttributeNames: attributeNames(
      "status",
      "attempts",
      "updatedAt",
      "leaseOwner",
      "leaseExpiresAt",
      "mismatchOwners",
      "failedAtMs",
      ...(forget === "" ? [] : ["upload"]),
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
  const current = await getGranule(table, granuleId);
  if (current === undefined) throw new GranuleNotFoundError(granuleId);
  return { requeued: false, granule: current };
}

export async function markDownloaded(
  table: StoreTable,
  granuleId: string,
  owner: string,
  result: { s3Key: string; bytesWritten: number; delivery?: GranuleRecord["delivery"] },
): Promise<void> {
  const now = table.now().toISOString();
  const delivery = result.delivery === undefined ? "" : ", #delivery = :delivery";
  try {
    await leaseHolderUpdate(table, "markDownloaded", granuleId, owner, {
      UpdateExpression: `SET #status = :downloaded, #s3Key = :s3Key, #bytesWritten = :bytes, #downloadedAt = :now, #updatedAt = :now${delivery} REMOVE #leaseOwner, #leaseExpiresAt, #upload, #lastError, #uploadCreating`,
      names: [
        "s3Key",
        "bytesWritten",
        "downloadedAt",
        "updatedAt",
        "leaseExpiresAt",
        "upload",
        "lastError",
        "uploadCreating",
        ...(delivery === "" ? [] : ["delivery"]),
      ],
      values: {
        ":downloaded": "DOWNLOADED",
        ":s3Key": result.s3Key,
        ":bytes": result.bytesWritten,
        ":now": now,
        ...(result.delivery !== undefined && { ":delivery": result.delivery }),
      },
    });
  } catch (error) {
    // An SDK-level retry of a write that did land must not turn success into a lost lease.
    if (error instanceof LeaseLostError) {
      const current = await getGranule(table, granuleId);
      if (current?.status === "DOWNLOADED" && current.s3Key === result.s3Key) return;
    }
    throw error;
  }
}

export async function markFailed(
  table: StoreTable,
  granuleId: string,
  error: GranuleError,
  options: { owner?: string } = {},
): Promise<GranuleRecord> {
  const { owner } = options;
  const lastError: GranuleError = {
    name: truncate(error.name, MAX_ERROR_NAME_LENGTH),
    message: truncate(String(error.message ?? ""), MAX_ERROR_MESSAGE_LENGTH),
  };
  const nowMs = table.now().getTime();
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
  const updated = await conditionalUpdate(table, `markFailed ${granuleId}`, {
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
  const current = await getGranule(table, granuleId);
  if (current === undefined) throw new GranuleNotFoundError(granuleId);
  if (current.status === "DOWNLOADED") return current;
  throw new LeaseLostError(granuleId, owner ?? "");
}

/** An update allowed only to the worker holding the DOWNLOADING lease. */
export async function leaseHolderUpdate(
  table: StoreTable,
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
  const holder = "#leaseOwner = :owner AND #status = :downloading";
  const updated = await conditionalUpdate(table, `${operation} ${granuleId}`, {
    Key: granuleKey(granuleId),
    UpdateExpression: update.UpdateExpression,
    ConditionExpression: update.condition === undefined ? holder : `${holder} AND ${update.condition}`,
    ExpressionAttributeNames: attributeNames(...new Set(["leaseOwner", "status", ...update.names])),
    ExpressionAttributeValues: { ...update.values, ":owner": owner, ":downloading": "DOWNLOADING" },
  });
  if (updated !== undefined) return updated;
  if ((await getGranule(table, granuleId)) === undefined) throw new GranuleNotFoundError(granuleId);
  throw new LeaseLostError(granuleId, owner);
}

function truncate(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}
