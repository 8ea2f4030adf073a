import { createHash } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { DownloaderError, TransferInterruptedError, UploadOutcomeUnknownError } from "../../domain/errors";
import type { UploadProgress } from "../../domain/granule";
import { isTransientAwsFailure } from "../aws-failure";

/** The object one multipart upload creates. */
export interface UploadTarget {
  s3: S3Client;
  bucket: string;
  key: string;
}

/** Starts the upload of `target` and returns its upload id; the object's metadata carries the hub's id and MD5. */
export async function createMultipartUpload(
  { s3, bucket, key }: UploadTarget,
  metadata: Record<string, string>,
  granuleId: string,
  signal: AbortSignal | undefined,
): Promise<string> {
  const created = await callS3(`create multipart upload of ${key}`, () =>
    s3.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        ContentType: "application/zip",
        Metadata: metadata,
      }),
      { abortSignal: signal },
    ),
  );
  if (created.UploadId === undefined) {
    throw new TransferInterruptedError(`S3 returned no upload id for ${key}`, { granuleId });
  }
  return created.UploadId;
}

/** Uploads one part and returns its ETag. */
export async function uploadPart(
  { s3, bucket, key }: UploadTarget,
  uploadId: string,
  partNumber: number,
  body: Buffer,
  abortSignal: AbortSignal,
): Promise<string> {
  const uploaded = await callS3(`part ${partNumber} of ${key}`, () =>
    s3.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber: partNumber,
        Body: body,
        ContentLength: body.length,
        // S3 rejects the part if it arrives different from what we hashed.
        ContentMD5: createHash("md5").update(body).digest("base64"),
      }),
      { abortSignal },
    ),
  );
  if (uploaded.ETag === undefined) {
    throw new TransferInterruptedError(`S3 returned no ETag for part ${partNumber} of ${key}`);
  }
  return uploaded.ETag;
}

/** Best-effort abort; returns the failure (s3rver answers 405) so the caller keeps its own error. */
export async function abortMultipartUpload(
  { s3, bucket, key }: UploadTarget,
  uploadId: string,
): Promise<unknown> {
  try {
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
    return undefined;
  } catch (error) {
    return error;
  }
}

export interface CompleteOptions {
  signal?: AbortSignal;
  /** Age from which an upload S3 no longer knows may have been aborted by a lifecycle rule. */
  lifecycleAbortAfterMs: number;
  /** Clock for upload ages, epoch milliseconds. */
  now: () => number;
}

/**
 * CompleteMultipartUpload of a verified upload, where NoSuchUpload means "already completed".
 * The S3 API reference: "Note that if CompleteMultipartUpload fails, applications should be prepared
 * to retry any failed requests (including 500 error responses)", and its NoSuchUpload: "The specified
 * multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have
 * been aborted or completed." A completing upload is never aborted by this code (nor by the sweeper),
 * so a NoSuchUpload on it means completed — unless it is old enough that a lifecycle rule may have
 * aborted it: then the outcome is unknown without read rights, and we say so instead of guessing.
 */
export async function completeMultipartUpload(
  { s3, bucket }: Omit<UploadTarget, "key">,
  granuleId: string,
  progress: UploadProgress,
  options: CompleteOptions,
): Promise<{ etag: string | undefined; completedEarlier: boolean }> {
  const { key, uploadId, parts } = progress;
  try {
    const completed = await callS3(`complete multipart upload of ${key}`, () =>
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
        { abortSignal: options.signal },
      ),
    );
    return { etag: completed.ETag, completedEarlier: false };
  } catch (error) {
    if (!isNoSuchUpload(error)) throw error;
    const age = progress.createdAt === undefined ? undefined : options.now() - progress.createdAt;
    if (age === undefined || age >= options.lifecycleAbortAfterMs) {
      throw new UploadOutcomeUnknownError(granuleId, key, uploadId, { cause: error });
    }
    return { etag: undefined, completedEarlier: true };
  }
}

export function isNoSuchUpload(error: unknown): boolean {
  return error instanceof Error && error.name === "NoSuchUpload";
}

/**
 * Runs one S3 call, turning transient failures (5xx, throttling, network) into the retryable
 * TransferInterruptedError; S3's 4xx refusals (AccessDenied, NoSuchBucket, NoSuchUpload) pass unchanged.
 */
async function callS3<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const refused = status !== undefined && status >= 400 && status < 500 && !isTransientAwsFailure(error);
    if (refused || error instanceof DownloaderError) throw error;
    throw new TransferInterruptedError(`S3 failed on ${what}`, { cause: error });
  }
}
