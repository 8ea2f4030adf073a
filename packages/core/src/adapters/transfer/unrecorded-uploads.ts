import { ListMultipartUploadsCommand, type S3Client } from "@aws-sdk/client-s3";
import { abortMultipartUpload, isNoSuchUpload } from "./multipart-upload";

/** What a search for uploads an attempt created but never recorded found and did. */
export interface UnrecordedUploads {
  /** Uploads of the key other than the recorded one, aborted now. */
  aborted: string[];
  /** Why they could not be looked for or aborted (e.g. AccessDenied: the bucket policy grants no list). */
  error?: string;
}

/**
 * Aborts the multipart uploads open on `key` other than `recordedUploadId`. Called by the holder of a
 * granule's lease when an earlier attempt died between CreateMultipartUpload and recording the id
 * (GranuleRecord.uploadCreating): S3 named an upload the table never learnt, and without this it stays
 * until the bucket's lifecycle rule. Listing needs s3:ListBucketMultipartUploads on the bucket; without
 * it (a bucket policy that grants only writes) the error is returned, never thrown: the download goes on.
 */
export async function abortUnrecordedUploads(
  target: { s3: S3Client; bucket: string; key: string },
  recordedUploadId: string | undefined,
  signal?: AbortSignal,
): Promise<UnrecordedUploads> {
  const { s3, bucket, key } = target;
  const aborted: string[] = [];
  try {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await s3.send(
        new ListMultipartUploadsCommand({
          Bucket: bucket,
          Prefix: key,
          ...(keyMarker !== undefined && { KeyMarker: keyMarker }),
          ...(uploadIdMarker !== undefined && { UploadIdMarker: uploadIdMarker }),
        }),
        { abortSignal: signal },
      );
      for (const upload of page.Uploads ?? []) {
        // The prefix also matches longer keys; the recorded upload is the transfer's to resume or abort.
        if (upload.Key !== key || upload.UploadId === undefined || upload.UploadId === recordedUploadId)
          continue;
        // Already gone (aborted or completed meanwhile) is as good as aborted.
        const failed = await abortMultipartUpload({ s3, bucket, key }, upload.UploadId);
        if (failed !== undefined && !isNoSuchUpload(failed)) throw failed;
        aborted.push(upload.UploadId);
      }
      const more = page.IsTruncated === true;
      keyMarker = more ? page.NextKeyMarker : undefined;
      uploadIdMarker = more ? page.NextUploadIdMarker : undefined;
    } while (keyMarker !== undefined);
    return { aborted };
  } catch (error) {
    return { aborted, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}
