import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { InvalidInputError } from "../../domain/errors";
import { FILTER_REASONS, type FilterReason } from "../../domain/filters";
import type { Platform } from "../../domain/granule";
import type { QueryFailure } from "../../domain/tally";
import {
  attributeNames,
  fetchKey,
  type Item,
  requireCount,
  requireDay,
  requirePlatform,
  type StoreTable,
  withContext,
} from "./dynamo";

// The search cursor: one counter item per (day, platform) holding where its search resumes, what it
// read and filtered, and how many granules were recorded (documented on GranuleStore's methods).

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
  /** The last time this search failed for good (see recordFetchFailure); absent when it never did. */
  failure?: QueryFailure;
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

export async function recordFetchProgress(
  table: StoreTable,
  day: string,
  platform: Platform,
  update: FetchProgressUpdate,
): Promise<FetchProgress> {
  requireDay(day);
  requirePlatform(platform);
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
    const { Attributes: item } = await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
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
          ":now": table.now().toISOString(),
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

export async function getFetchProgress(
  table: StoreTable,
  day: string,
  platform: Platform,
): Promise<FetchProgress | undefined> {
  requireDay(day);
  requirePlatform(platform);
  try {
    const { Item: item } = await table.client.send(
      new GetCommand({ TableName: table.tableName, Key: fetchKey(day, platform), ConsistentRead: true }),
    );
    return item === undefined ? undefined : toFetchProgress(item);
  } catch (error) {
    throw withContext(error, `getFetchProgress ${day} ${platform}`);
  }
}

/**
 * Records on the (day, platform) counter item that its search failed for good. A plain SET of one
 * attribute, so applying it twice (an SDK retry after a lost answer) changes nothing; pages read later
 * move lastFetchAt past it, which is how a reader tells the failure is over (see tally.ts, isQueryFailed).
 */
export async function recordFetchFailure(
  table: StoreTable,
  day: string,
  platform: Platform,
  failure: Omit<QueryFailure, "at">,
): Promise<QueryFailure> {
  requireDay(day);
  requirePlatform(platform);
  const recorded: QueryFailure = { ...failure, at: table.now().toISOString() };
  try {
    await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: fetchKey(day, platform),
        UpdateExpression: "SET #day = :day, #platform = :platform, #failure = :failure",
        ExpressionAttributeNames: attributeNames("day", "platform", "failure"),
        ExpressionAttributeValues: { ":day": day, ":platform": platform, ":failure": recorded },
      }),
    );
    return recorded;
  } catch (error) {
    throw withContext(error, `recordFetchFailure ${day} ${platform}`);
  }
}

/** ADDs to a (day, platform) counter item, creating it when absent (ADD treats a missing number as 0). */
export async function addToCounter(
  table: StoreTable,
  day: string,
  platform: Platform,
  add: { recorded: number },
  context: string,
) {
  try {
    await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
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
  const failure = item["failure"] as QueryFailure | undefined;
  return {
    ...(failure !== undefined && { failure }),
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
