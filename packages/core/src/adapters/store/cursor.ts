import { GetCommand, UpdateCommand, type UpdateCommandInput } from "@aws-sdk/lib-dynamodb";
import { InvalidInputError } from "../../domain/errors";
import { FILTER_REASONS, type FilterReason } from "../../domain/filters";
import { isPlatform, type Platform } from "../../domain/granule";
import type { QueryFailure } from "../../domain/tally";
import {
  attributeNames,
  fetchKey,
  type Item,
  isConditionFailed,
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
  /** Page writes applied so far (absent before the first versioned write): the next one must find it. */
  version?: number;
  /** The writeId of the last page write applied. */
  writeId?: string;
  /** Ids of the last entries read, in hub order, re-read at the start of the next page (absent when none). */
  tail?: string[];
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
  /**
   * The `version` read before the page (0 when none): the write applies only while the item still has
   * it, so an SDK retry of an applied write, or a second fetcher of the same query, never adds twice.
   * Absent: an unconditional write (seeding a counter, tests).
   */
  expectedVersion?: number;
  /** Unique per write, with expectedVersion: tells our own retried write from another fetcher's. */
  writeId?: string;
  /** Ids to re-read at the start of the next page (FetchProgress.tail). */
  tail?: string[];
}

/** How many recent count tokens a counter item keeps (countRecorded): a retry finds its own among them. */
const COUNT_TOKENS = 8;
const COUNT_TOKEN_ATTRIBUTES = Array.from({ length: COUNT_TOKENS }, (_, i) => `countToken${i}`);

/**
 * One page's step of a (day, platform) search. With `expectedVersion`, a conditional write: when the
 * condition fails, the item as it is now comes back, and `writeId` on it says whether the write that
 * moved it was this one (an SDK retry after a lost answer) or another fetcher's.
 */
export async function recordFetchProgress(
  table: StoreTable,
  day: string,
  platform: Platform,
  update: FetchProgressUpdate,
): Promise<FetchProgress> {
  const versioned = update.expectedVersion !== undefined;
  if (versioned) {
    if (!update.writeId)
      throw new InvalidInputError("writeId is required with expectedVersion", { field: "writeId" });
  }
  const counters = filteredAttributes(update.filteredDelta ?? {});
  if (update.recordedDelta !== undefined && update.recordedDelta > 0) {
    counters["recorded"] = update.recordedDelta;
  }
  const counterAdds = Object.keys(counters).map((attribute) => `, #${attribute} :${attribute}`);
  const sets = [
    "#day = :day",
    "#platform = :platform",
    "#available = :available",
    "#nextOffset = :nextOffset",
  ];
  sets.push("#finished = :finished", "#lastFetchAt = :now");
  const names = ["day", "platform", "available", "nextOffset", "finished", "lastFetchAt", "fetched"];
  const values: Record<string, unknown> = {
    ":day": day,
    ":platform": platform,
    ":available": update.available,
    ":nextOffset": update.nextOffset,
    ":finished": update.finished,
    ":now": table.now().toISOString(),
    ":delta": update.fetchedDelta,
    ...Object.fromEntries(Object.entries(counters).map(([attribute, n]) => [`:${attribute}`, n])),
  };
  if (update.tail !== undefined) {
    sets.push("#tail = :tail");
    names.push("tail");
    values[":tail"] = update.tail;
  }
  let condition: string | undefined;
  if (versioned) {
    sets.push("#version = :nextVersion", "#writeId = :writeId");
    names.push("version", "writeId");
    values[":nextVersion"] = (update.expectedVersion ?? 0) + 1;
    values[":writeId"] = update.writeId;
    // A counter item the push path created has no version yet: that is version 0.
    if (update.expectedVersion === 0) condition = "attribute_not_exists(#version)";
    else {
      condition = "#version = :expectedVersion";
      values[":expectedVersion"] = update.expectedVersion;
    }
  }
  const input: Omit<UpdateCommandInput, "TableName"> = {
    Key: fetchKey(day, platform),
    UpdateExpression: `SET ${sets.join(", ")} ADD #fetched :delta${counterAdds.join("")}`,
    ExpressionAttributeNames: attributeNames(...names, ...Object.keys(counters)),
    ExpressionAttributeValues: values,
    ...(condition !== undefined && { ConditionExpression: condition }),
    ReturnValues: "ALL_NEW",
  };
  try {
    const { Attributes: item } = await table.client.send(
      new UpdateCommand({ ...input, TableName: table.tableName }),
    );
    return toFetchProgress(item ?? {});
  } catch (error) {
    if (versioned && isConditionFailed(error)) {
      const now = await getFetchProgress(table, day, platform);
      if (now !== undefined) return now;
    }
    throw withContext(error, `recordFetchProgress ${day} ${platform}`);
  }
}

export async function getFetchProgress(
  table: StoreTable,
  day: string,
  platform: Platform,
): Promise<FetchProgress | undefined> {
  if (!isPlatform(platform)) {
    throw new InvalidInputError(`platform must be a Sentinel-2 platform (S2[A-Z]), got ${String(platform)}`, {
      field: "platform",
    });
  }
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

/**
 * ADDs `n` to a (day, platform) counter item's `recorded`, once per `token`: the item keeps the last
 * COUNT_TOKENS tokens and refuses one it holds, so an SDK retry of an applied ADD (its answer lost)
 * does not count twice. Creates the item when absent (ADD treats a missing number as 0).
 */
export async function countRecorded(
  table: StoreTable,
  day: string,
  platform: Platform,
  count: { n: number; token: string },
  context: string,
) {
  const tokens = COUNT_TOKEN_ATTRIBUTES.map((attribute) => `#${attribute}`);
  // Shift the ring by one (SET reads the item as it was before the update) and put the token first.
  const shift = tokens.slice(1).map((to, i) => `${to} = if_not_exists(${tokens[i]}, :none)`);
  try {
    await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: fetchKey(day, platform),
        UpdateExpression: `SET #day = :day, #platform = :platform, ${shift.join(", ")}, ${tokens[0]} = :token ADD #recorded :n`,
        ConditionExpression: `NOT (${tokens.map((t) => `${t} = :token`).join(" OR ")})`,
        ExpressionAttributeNames: attributeNames("day", "platform", "recorded", ...COUNT_TOKEN_ATTRIBUTES),
        ExpressionAttributeValues: {
          ":day": day,
          ":platform": platform,
          ":n": count.n,
          ":token": count.token,
          ":none": "",
        },
      }),
    );
  } catch (error) {
    // The token is among the recent ones: this count was applied already.
    if (isConditionFailed(error)) return;
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
    ...(item["version"] !== undefined && { version: Number(item["version"]) }),
    ...(typeof item["writeId"] === "string" && { writeId: item["writeId"] }),
    ...(Array.isArray(item["tail"]) && item["tail"].length > 0 && { tail: item["tail"].map(String) }),
  };
}
