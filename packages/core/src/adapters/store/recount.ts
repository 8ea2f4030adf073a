import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { GRANULE_STATUSES, PLATFORMS, type Platform } from "../../domain/granule";
import { getFetchProgress } from "./cursor";
import { attributeNames, fetchKey, isConditionFailed, type StoreTable, withContext } from "./dynamo";
import { listByStatus } from "./listings";

// Reconciliation of the per (day, platform) `recorded` counters with the status index, for an
// over-count no retry-safe write should produce but an older release or a stand-in could leave.

/** A (day, platform) counter as recountDay found and left it. */
export interface PlatformRecount {
  platform: Platform;
  /** `recorded` before the recount. */
  before: number;
  /** Granule items the status index holds for the (day, platform): `recorded` now. */
  after: number;
}

// A recount races granules recorded while it reads; it reads again this often before it gives up.
const RECOUNT_ROUNDS = 3;

export async function recountDay(table: StoreTable, day: string): Promise<PlatformRecount[]> {
  const indexed = new Map<Platform, number>();
  for (const status of GRANULE_STATUSES) {
    for (const granule of await listByStatus(table, day, status)) {
      indexed.set(granule.platform, (indexed.get(granule.platform) ?? 0) + 1);
    }
  }
  const platforms = [...new Set<Platform>([...PLATFORMS, ...indexed.keys()])];
  const recounts: PlatformRecount[] = [];
  for (const platform of platforms) {
    const after = indexed.get(platform) ?? 0;
    for (let round = 1; ; round++) {
      const before = (await getFetchProgress(table, day, platform))?.recorded ?? 0;
      if (before === after) {
        if (after > 0) recounts.push({ platform, before, after });
        break;
      }
      if (await setRecorded(table, day, platform, before, after)) {
        recounts.push({ platform, before, after });
        break;
      }
      if (round >= RECOUNT_ROUNDS) {
        throw new Error(`recount ${day} ${platform}: the counter kept changing while it was recounted`);
      }
    }
  }
  return recounts;
}

/** Sets `recorded` from `before` to `after`; false when another write changed it first (applied twice: a no-op). */
async function setRecorded(
  table: StoreTable,
  day: string,
  platform: Platform,
  before: number,
  after: number,
): Promise<boolean> {
  try {
    await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: fetchKey(day, platform),
        UpdateExpression: "SET #day = :day, #platform = :platform, #recorded = :after",
        // Only from the value read: a granule counted meanwhile is not overwritten.
        ConditionExpression: `#recorded = :before OR #recorded = :after${before === 0 ? " OR attribute_not_exists(#recorded)" : ""}`,
        ExpressionAttributeNames: attributeNames("day", "platform", "recorded"),
        ExpressionAttributeValues: {
          ":day": day,
          ":platform": platform,
          ":before": before,
          ":after": after,
        },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw withContext(error, `recountDay ${day} ${platform}`);
  }
}
