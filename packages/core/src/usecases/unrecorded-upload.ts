import type { S3Client } from "@aws-sdk/client-s3";
import { abortUnrecordedUploads } from "../adapters/transfer/unrecorded-uploads";
import type { GranuleRecord } from "../domain/granule";
import type { MetricSink } from "../domain/metrics";
import type { DownloadLogger } from "./record-failure";

/**
 * The claim found the marker of a CreateMultipartUpload whose id never reached the table (the attempt
 * died in between): the upload S3 made is looked for on the key and aborted, so no upload outlives its
 * granule. Counted either way; when the bucket lets us list nothing, the lifecycle rule removes it.
 */
export async function abortUploadsNobodyRecorded(
  granule: Pick<GranuleRecord, "granuleId" | "uploadCreating" | "upload">,
  deps: {
    s3: S3Client;
    bucket: string;
    /** The bucket lets us list its uploads (UPLOAD_BUCKET_LISTABLE); else the lifecycle rule is left to act. */
    listUploads?: boolean;
    signal?: AbortSignal;
    metrics?: MetricSink;
    logger?: DownloadLogger;
  },
): Promise<void> {
  const creating = granule.uploadCreating;
  if (creating === undefined) return;
  deps.metrics?.add("UploadsUnrecorded", 1);
  if (deps.listUploads !== true) {
    deps.logger?.info(
      "an earlier attempt created an upload it never recorded: left to the bucket's lifecycle rule",
      {
        granuleId: granule.granuleId,
        key: creating.key,
        markedAt: new Date(creating.atMs).toISOString(),
      },
    );
    return;
  }
  const found = await abortUnrecordedUploads(
    { s3: deps.s3, bucket: deps.bucket, key: creating.key },
    granule.upload?.uploadId,
    deps.signal,
  );
  deps.logger?.info("an earlier attempt created an upload it never recorded", {
    granuleId: granule.granuleId,
    key: creating.key,
    markedAt: new Date(creating.atMs).toISOString(),
    aborted: found.aborted,
    ...(found.error !== undefined && {
      notAborted: `${found.error} (the bucket's lifecycle rule removes it)`,
    }),
  });
}
