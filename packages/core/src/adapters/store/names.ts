import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { LeaseLostError } from "../../domain/errors";
import type { GranuleStatus } from "../../domain/granule";
import { attributeNames, conditionalUpdate, PK, type StoreTable, withContext } from "./dynamo";
import { getGranule, leaseHolderUpdate } from "./granules";

// One name, one download: each object key is claimed once, by the first granule id that downloads it.
// A hub may publish one product name under two ids (a faulty first release and its fix; a hub family
// that re-ids everything), and both ids map to one key: without this claim both would be downloaded.

/** The item that holds an object key: pk = `object#<key>`; it is not a granule (no dayShard, no index). */
function objectKeyItem(key: string) {
  return { [PK]: `object#${key}` };
}

/** Who holds an object key. */
export interface ObjectKeyClaim {
  /** The granule id that holds the key (the caller's when it won). */
  holder: string;
}

export async function claimObjectKey(
  table: StoreTable,
  key: string,
  granuleId: string,
): Promise<ObjectKeyClaim> {
  // Claimed if absent, or already ours (an SDK retry of a write that landed reads as ours). An
  // UpdateItem creates the item when absent: the Download role writes with UpdateItem only.
  const claimed = await conditionalUpdate(table, `claimObjectKey ${key}`, {
    Key: objectKeyItem(key),
    UpdateExpression:
      "SET #granuleId = :granuleId, #key = :key, #claimedAt = if_not_exists(#claimedAt, :now)",
    ConditionExpression: "attribute_not_exists(#pk) OR #granuleId = :granuleId",
    ExpressionAttributeNames: attributeNames(PK, "granuleId", "key", "claimedAt"),
    ExpressionAttributeValues: { ":granuleId": granuleId, ":key": key, ":now": table.now().toISOString() },
  });
  if (claimed !== undefined) return { holder: granuleId };
  try {
    const { Item: item } = await table.client.send(
      new GetCommand({ TableName: table.tableName, Key: objectKeyItem(key), ConsistentRead: true }),
    );
    return { holder: String(item?.["granuleId"] ?? "") };
  } catch (error) {
    throw withContext(error, `claimObjectKey ${key}`);
  }
}

export async function takeOverObjectKey(
  table: StoreTable,
  key: string,
  from: string,
  to: string,
): Promise<boolean> {
  const updated = await conditionalUpdate(table, `takeOverObjectKey ${key}`, {
    Key: objectKeyItem(key),
    UpdateExpression: "SET #granuleId = :to, #previousHolder = :from, #claimedAt = :now",
    ConditionExpression: "#granuleId = :from",
    ExpressionAttributeNames: attributeNames("granuleId", "previousHolder", "claimedAt"),
    ExpressionAttributeValues: { ":from": from, ":to": to, ":now": table.now().toISOString() },
  });
  return updated !== undefined;
}

export async function markDuplicate(
  table: StoreTable,
  granuleId: string,
  owner: string,
  duplicateOf: string,
): Promise<void> {
  await leaseHolderUpdate(table, "markDuplicate", granuleId, owner, {
    UpdateExpression:
      "SET #status = :duplicate, #duplicateOf = :of, #updatedAt = :now REMOVE #leaseOwner, #leaseExpiresAt, #upload",
    names: ["duplicateOf", "updatedAt", "leaseExpiresAt", "upload"],
    values: {
      ":duplicate": "DUPLICATE" satisfies GranuleStatus,
      ":of": duplicateOf,
      ":now": table.now().toISOString(),
    },
  }).catch(async (error: unknown) => {
    // An SDK retry of a write that did land must not turn it into a lost lease.
    if (error instanceof LeaseLostError && (await getGranule(table, granuleId))?.status === "DUPLICATE")
      return;
    throw error;
  });
}
