import { normalizeMd5 } from "../../domain/filters";
import type { GranuleStatus, UploadProgress } from "../../domain/granule";
import { attributeNames, conditionalUpdate, granuleKey, type StoreTable } from "./dynamo";
import { leaseHolderUpdate } from "./granules";

// What a granule records of its download (the hub's MD5, the multipart upload to resume) and the
// sweeper's hold on an abandoned upload (documented on GranuleStore's methods).

export async function recordChecksum(
  table: StoreTable,
  granuleId: string,
  owner: string,
  md5: string,
): Promise<void> {
  const value = normalizeMd5(md5, { granuleId });
  const now = table.now().toISOString();
  await leaseHolderUpdate(table, "recordChecksum", granuleId, owner, {
    UpdateExpression: "SET #checksum = :checksum, #updatedAt = :now",
    names: ["checksum", "updatedAt"],
    values: { ":checksum": { algorithm: "MD5", value, fetchedAt: now }, ":now": now },
  });
}

export async function saveUploadProgress(
  table: StoreTable,
  granuleId: string,
  owner: string,
  progress: UploadProgress | null,
): Promise<void> {
  const now = table.now().toISOString();
  await leaseHolderUpdate(
    table,
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
          // The upload now known, the marker its Create left (markUploadCreating) has served.
          UpdateExpression: "SET #upload = :upload, #updatedAt = :now REMOVE #uploadCreating",
          // Never over an upload the sweeper marked abandoned: it may be aborting it right now, and a
          // completing record on an aborted upload would later read NoSuchUpload as "completed".
          condition: "(attribute_not_exists(#upload.#abandonedAt) OR #upload.#uploadId <> :uploadId)",
          names: ["upload", "updatedAt", "abandonedAt", "uploadId", "uploadCreating"],
          values: { ":upload": progress, ":now": now, ":uploadId": progress.uploadId },
        },
  );
}

/**
 * Marks that this lease holder is about to create a multipart upload on `key`. S3 assigns the id, so
 * an attempt that dies after CreateMultipartUpload and before saveUploadProgress leaves an upload the
 * table cannot name; the marker tells the next claim to look for it. Applied twice: the same marker.
 */
export async function markUploadCreating(
  table: StoreTable,
  granuleId: string,
  owner: string,
  key: string,
): Promise<void> {
  const now = table.now();
  await leaseHolderUpdate(table, "markUploadCreating", granuleId, owner, {
    UpdateExpression: "SET #uploadCreating = :creating, #updatedAt = :now",
    names: ["uploadCreating", "updatedAt"],
    values: { ":creating": { key, atMs: now.getTime() }, ":now": now.toISOString() },
  });
}

export async function markUploadAbandoned(
  table: StoreTable,
  granuleId: string,
  uploadId: string,
  expected: { status: GranuleStatus; leaseExpiredBefore?: number; markedAt?: number },
): Promise<boolean> {
  const values: Record<string, unknown> = {
    ":status": expected.status,
    ":uploadId": uploadId,
    ":now": expected.markedAt ?? table.now().getTime(),
  };
  let condition =
    "#status = :status AND #upload.#uploadId = :uploadId AND attribute_not_exists(#upload.#completing)";
  if (expected.leaseExpiredBefore !== undefined) {
    condition += " AND #leaseExpiresAt < :cutoff";
    values[":cutoff"] = expected.leaseExpiredBefore;
  }
  const updated = await conditionalUpdate(table, `markUploadAbandoned ${granuleId}`, {
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

export async function forgetAbandonedUpload(
  table: StoreTable,
  granuleId: string,
  uploadId: string,
): Promise<boolean> {
  const updated = await conditionalUpdate(table, `forgetAbandonedUpload ${granuleId}`, {
    Key: granuleKey(granuleId),
    UpdateExpression: "SET #updatedAt = :now REMOVE #upload",
    ConditionExpression: "#upload.#uploadId = :uploadId AND attribute_exists(#upload.#abandonedAt)",
    ExpressionAttributeNames: attributeNames("upload", "uploadId", "abandonedAt", "updatedAt"),
    ExpressionAttributeValues: { ":uploadId": uploadId, ":now": table.now().toISOString() },
  });
  return updated !== undefined;
}

export async function releaseAbandonedUpload(
  table: StoreTable,
  granuleId: string,
  uploadId: string,
  markedAt: number,
): Promise<boolean> {
  // Only this sweeper's own hold: another sweep's, set meanwhile, is that sweep's to release.
  const updated = await conditionalUpdate(table, `releaseAbandonedUpload ${granuleId}`, {
    Key: granuleKey(granuleId),
    UpdateExpression: "REMOVE #upload.#abandonedAt",
    ConditionExpression: "#upload.#uploadId = :uploadId AND #upload.#abandonedAt = :markedAt",
    ExpressionAttributeNames: attributeNames("upload", "uploadId", "abandonedAt"),
    ExpressionAttributeValues: { ":uploadId": uploadId, ":markedAt": markedAt },
  });
  return updated !== undefined;
}
