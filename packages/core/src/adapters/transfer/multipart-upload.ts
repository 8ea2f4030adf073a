import { createHash } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import {
  ConditionalWriteConflictError,
  DownloaderError,
  TransferInterruptedError,
  UploadOutcomeUnknownError,
} from "../../domain/errors";
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
 * How a granule's object came to be: written by this request (`now`), by an earlier Complete of the same
 * upload (`earlier-complete`: NoSuchUpload on a completing upload), or already there when we wrote
 * (`key-existed`: S3 answered 412 to `If-None-Match: *`, so the key was written before, by an earlier
 * attempt whose answer was lost or by another writer).
 */
export type Publication = "now" | "earlier-complete" | "key-existed";

/** Every write that creates a granule's object asks S3 to refuse it when the key exists. */
const ONLY_IF_ABSENT = "*";

/**
 * CompleteMultipartUpload of a verified upload with `If-None-Match: *`, where NoSuchUpload means
 * "already completed" and 412 "the key exists already" (the upload is then aborted: a second object on
 * the key would start a second HLS processing run). The S3 API reference: "Note that if
 * CompleteMultipartUpload fails, applications should be prepared to retry any failed requests
 * (including 500 error responses)", and its NoSuchUpload: "The specified multipart upload does not
 * exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed."
 * A completing upload is never aborted by this code (nor by the sweeper), so a NoSuchUpload on it means
 * completed — unless it is old enough that a lifecycle rule may have aborted it: then the outcome is
 * unknown without read rights, and we say so instead of guessing.
 * @throws ConditionalWriteConflictError on 409 (the upload is left to the caller, which forgets it first).
 */
export async function completeMultipartUpload(
  { s3, bucket }: Omit<UploadTarget, "key">,
  granuleId: string,
  progress: UploadProgress,
  options: CompleteOptions,
): Promise<{ etag: string | undefined; publication: Publication }> {
  const { key, uploadId, parts } = progress;
  try {
    const completed = await callS3(`complete multipart upload of ${key}`, () =>
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
          IfNoneMatch: ONLY_IF_ABSENT,
        }),
        { abortSignal: options.signal },
      ),
    );
    return { etag: completed.ETag, publication: "now" };
  } catch (error) {
    if (isPreconditionFailed(error)) {
      await abortMultipartUpload({ s3, bucket, key }, uploadId);
      return { etag: undefined, publication: "key-existed" };
    }
    if (isConditionalConflict(error))
      throw new ConditionalWriteConflictError(granuleId, key, { cause: error });
    if (!isNoSuchUpload(error)) throw error;
    const age = progress.createdAt === undefined ? undefined : options.now() - progress.createdAt;
    if (age === undefined || age >= options.lifecycleAbortAfterMs) {
      throw new UploadOutcomeUnknownError(granuleId, key, uploadId, { cause: error });
    }
    return { etag: undefined, publication: "earlier-complete" };
  }
}

/**
 * Writes a whole product in one PutObject with `Content-MD5` (S3 refuses bytes that arrive different)
 * and `If-None-Match: *`: one request instead of Create, UploadPart and Complete, atomic, and nothing
 * left to abort. The caller has verified `body` against the hub's MD5 before calling.
 * A 409 (a concurrent write of the key) is retried here once: S3, "If using PutObject you can retry".
 * @throws ConditionalWriteConflictError when the conflict persists.
 */
export async function putObjectOnce(
  { s3, bucket, key }: UploadTarget,
  granuleId: string,
  body: Buffer,
  metadata: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<{ etag: string | undefined; publication: Publication }> {
  for (let attempt = 1; ; attempt++) {
    try {
      const put = await callS3(`put of ${key}`, () =>
        s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: body,
            ContentLength: body.length,
            ContentMD5: createHash("md5").update(body).digest("base64"),
            ContentType: "application/zip",
            Metadata: metadata,
            IfNoneMatch: ONLY_IF_ABSENT,
          }),
          { abortSignal: signal },
        ),
      );
      return { etag: put.ETag, publication: "now" };
    } catch (error) {
      if (isPreconditionFailed(error)) return { etag: undefined, publication: "key-existed" };
      if (!isConditionalConflict(error)) throw error;
      if (attempt === 2) throw new ConditionalWriteConflictError(granuleId, key, { cause: error });
    }
  }
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

/** S3's 412 PreconditionFailed: the key existed, so `If-None-Match: *` refused the write. */
export function isPreconditionFailed(error: unknown): boolean {
  return error instanceof Error && (error.name === "PreconditionFailed" || statusOf(error) === 412);
}

/** S3's 409 ConditionalRequestConflict: another conditional write of the key was in progress. */
function isConditionalConflict(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalRequestConflict";
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
    const status = statusOf(error);
    const refused = status !== undefined && status >= 400 && status < 500 && !isTransientAwsFailure(error);
    if (refused || error instanceof DownloaderError) throw error;
    throw new TransferInterruptedError(`S3 failed on ${what}`, { cause: error });
  }
}
