import { abortMultipartUpload } from "../adapters/transfer/multipart-upload";
import { TERMINAL_ERROR_NAMES } from "../domain/errors";
import { type GranuleRecord, objectKeyFor } from "../domain/granule";
import type { DownloadDeps, DownloadResult } from "./download";

/**
 * One name, one download: claims the granule's object key for its id. When another id of the same
 * product name holds it, this granule is recorded DUPLICATE of that one and never downloaded — unless
 * the holder ended FAILED for a terminal reason with nothing that may have reached S3 (e.g. its MD5 never
 * matched: a faulty first release whose fix is this id), which hands the key to this id. S3's
 * `If-None-Match: *` stays the second guard should both ever write.
 * @returns the duplicate outcome, or undefined when this granule holds the key and downloads.
 */
export async function holdObjectKey(
  granule: GranuleRecord,
  owner: string,
  deps: DownloadDeps,
): Promise<DownloadResult | undefined> {
  const { granuleId, upload } = granule;
  const { store } = deps;
  const key = upload?.completing !== undefined ? upload.key : objectKeyFor(granule.name, deps.objectPrefix);
  const { holder } = await store.claimObjectKey(key, granuleId);
  // A completing upload (recorded before keys were claimed) may be the object already: finish it; S3's
  // If-None-Match: * answers 412 if the holder wrote first.
  if (holder === granuleId || upload?.completing !== undefined) return undefined;
  const first = await store.getGranule(holder);
  if (mayTakeOverKey(first) && (await store.takeOverObjectKey(key, holder, granuleId))) {
    deps.logger?.info("taking over the object key of a granule that failed for good", {
      granuleId,
      key,
      previousHolder: holder,
      previousError: first?.lastError?.name,
    });
    return undefined;
  }
  // The record of an unfinished upload goes with the DUPLICATE mark: abort the upload first (best effort).
  if (upload !== undefined && upload.uploadId !== "") {
    await abortMultipartUpload({ s3: deps.s3, bucket: deps.bucket, key: upload.key }, upload.uploadId);
  }
  await store.markDuplicate(granuleId, owner, holder);
  deps.logger?.info("duplicate product name: not downloaded", { granuleId, key, duplicateOf: holder });
  return { granuleId, outcome: "duplicate", key, duplicateOf: holder };
}

/** A key holder that will never write its object: gone from the table, or FAILED for good before any Complete. */
function mayTakeOverKey(holder: GranuleRecord | undefined): boolean {
  if (holder === undefined) return true;
  const reason = holder.lastError?.name ?? "";
  return (
    holder.status === "FAILED" &&
    (TERMINAL_ERROR_NAMES as readonly string[]).includes(reason) &&
    // Its object may exist: only an operator who checked the bucket may hand its key on.
    reason !== "UploadOutcomeUnknownError" &&
    holder.upload?.completing === undefined
  );
}
