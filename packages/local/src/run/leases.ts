import { paginateScan, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { createDocumentClient, SlotPool } from "@hls-s2/core/store";
import type { EmbeddedStores } from "../aws";

export interface ReleasedLease {
  granuleId: string;
  owner: string;
  /** Bytes of the saved multipart upload the next claim resumes from (0 when none). */
  resumableBytes: number;
}

/**
 * Ends the DOWNLOADING leases left in a local data folder by a run that died (SIGKILL, power loss),
 * so the next run's manifest lists those granules at once instead of after LEASE_SECONDS (900 s).
 * Safe only because the folder is exclusive: dynalite's LevelDB LOCK, or DynamoDB Local's LOCK file
 * (see embedded.ts), is held by one process at a time, so once `stores` opened the folder no other
 * local worker can be holding a lease in it.
 * Status, attempts and the saved upload are kept: the next claim resumes that upload.
 */
export async function releaseStaleLocalLeases(stores: EmbeddedStores): Promise<ReleasedLease[]> {
  const client = createDocumentClient(stores.dynamo);
  const released: ReleasedLease[] = [];
  const pages = paginateScan(
    { client },
    {
      TableName: stores.tableName,
      FilterExpression: "#status = :downloading",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: { ":downloading": "DOWNLOADING" },
    },
  );
  for await (const page of pages) {
    for (const item of page.Items ?? []) {
      const owner = item["leaseOwner"];
      if (typeof owner !== "string") continue;
      // Conditional on the same owner: an item that moved on since the scan is left alone.
      await client.send(
        new UpdateCommand({
          TableName: stores.tableName,
          Key: { pk: item["pk"] },
          UpdateExpression: "SET #leaseExpiresAt = :expired",
          ConditionExpression: "#status = :downloading AND #leaseOwner = :owner",
          ExpressionAttributeNames: {
            "#status": "status",
            "#leaseOwner": "leaseOwner",
            "#leaseExpiresAt": "leaseExpiresAt",
          },
          ExpressionAttributeValues: { ":downloading": "DOWNLOADING", ":owner": owner, ":expired": 0 },
        }),
      );
      released.push({
        granuleId: String(item["granuleId"]),
        owner,
        resumableBytes: Number((item["upload"] as { bytes?: number } | undefined)?.bytes ?? 0),
      });
    }
  }
  return released;
}

/**
 * Frees the hub slots a dead run left held in a local data folder, for the reason above: the folder's
 * lock proves no live worker holds one, so the next run need not wait out their leases.
 */
export async function releaseStaleLocalSlots(stores: EmbeddedStores): Promise<number> {
  const pool = new SlotPool(createDocumentClient(stores.dynamo), { tableName: stores.tableName });
  return (await pool.releaseAll()).length;
}
