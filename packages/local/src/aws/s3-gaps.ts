import { appendFile, readdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { KoaContext } from "s3rver";
import { checkCompleteChecksums, uploadPart } from "./s3-checksums";
import { ConditionalWrites } from "./s3-conditional";
import { listUploads, type Next, readUpload, S3Error, type Upload } from "./s3rver-uploads";

/**
 * s3rver 3.7.1 lacks operations the downloader and its tests rely on. This Koa middleware, mounted in
 * front of s3rver's router, fills them in over s3rver's own on-disk layout
 * (`<dir>/<bucket>/._S3rver_uploads/<uploadId>/{key,metadata,<partNumber>}`):
 * - AbortMultipartUpload (s3rver answers 405) and ListMultipartUploads (501), so a test can assert
 *   "no incomplete multipart upload is left behind";
 * - NoSuchUpload (404) for UploadPart / CompleteMultipartUpload / ListParts on an unknown or aborted
 *   upload id (s3rver silently recreates the folder, which would hide a resume bug);
 * - ListParts;
 * - CompleteMultipartUpload as S3 documents it for a repeated call: once an upload is completed its id
 *   answers NoSuchUpload ("the multipart upload might have been aborted or completed"), also when two
 *   Completes of one id race (s3rver alone would store the object twice); every successful Complete is
 *   logged per key, so tests can count objects created (each one an HLS processing run);
 * - ListObjectsV2 pagination without OpenSSL's legacy provider (s3rver encrypts continuation tokens
 *   with DES, which Node 17+ refuses unless started with --openssl-legacy-provider);
 * - S3's checksum rules for multipart uploads, which s3rver ignores (it stores any x-amz-checksum-*
 *   header and never checks a Content-MD5), so a client that mixes algorithms fails here as on S3:
 *   see s3-checksums.ts;
 * - S3's conditional writes (`If-None-Match: *` on PutObject and CompleteMultipartUpload: 412 when the
 *   key exists, 409 on a concurrent conditional write of the key): see s3-conditional.ts. Every object
 *   a PutObject creates is logged per key too, beside the Completes;
 * - a log of every request by S3 operation (onRequest), so tests count what a granule costs.
 */

/** At the store's root, beside the bucket folders: s3rver lists only folders as buckets. */
const COMPLETIONS_FILE = "._S3rver_completions.jsonl";
const TOKEN_PREFIX = "local:";

export interface S3GapsOptions {
  /**
   * Called after a CompleteMultipartUpload (or a PutObject: uploadId "") of the upload bucket's kind
   * stored its object, before the answer is sent.
   */
  onUploadCompleted?: (completion: { bucket: string; key: string; uploadId: string }) => void;
  /** The bucket of granule objects: its PutObjects are logged and reported as created objects. */
  objectBucket?: string;
  /** Called with every request as it arrives, named by its S3 operation. */
  onRequest?: (request: S3Request) => void;
}

/** One request to the embedded S3, by S3 operation (e.g. PutObject, UploadPart, CompleteMultipartUpload). */
export interface S3Request {
  operation: string;
  bucket: string;
  key?: string;
}

/** The S3 operation of a request, from its method, path and query (the SDK's path-style requests). */
function operationOf(ctx: KoaContext, route: { bucket: string; key?: string }): string {
  const has = (name: string) => name in ctx.query;
  if (route.key === undefined) {
    if (ctx.method === "GET") return has("uploads") ? "ListMultipartUploads" : "ListObjects";
    return `${ctx.method}Bucket`;
  }
  switch (ctx.method) {
    case "PUT":
      if (has("partNumber")) return "UploadPart";
      return ctx.get("x-amz-copy-source") === "" ? "PutObject" : "CopyObject";
    case "POST":
      if (has("uploads")) return "CreateMultipartUpload";
      return has("uploadId") ? "CompleteMultipartUpload" : "PostObject";
    case "DELETE":
      return has("uploadId") ? "AbortMultipartUpload" : "DeleteObject";
    case "GET":
      return has("uploadId") ? "ListParts" : "GetObject";
    default:
      return `${ctx.method}Object`;
  }
}

/** The middleware filling s3rver's gaps, for the store rooted at `directory`. */
export function s3GapsMiddleware(directory: string, options: S3GapsOptions = {}) {
  // One request at a time per upload id for Complete: the next one then finds the upload gone.
  const locks = new Map<string, Promise<void>>();
  const conditional = new ConditionalWrites();
  const gaps = async (
    ctx: KoaContext,
    next: Next,
    route: { bucket: string; key: string },
    uploadId: string,
  ) => {
    const upload = await readUpload(directory, route.bucket, uploadId);
    if (upload === undefined || upload.key !== route.key) {
      throw new S3Error("NoSuchUpload", "The specified upload does not exist.", { UploadId: uploadId });
    }
    if (ctx.method === "DELETE") {
      await rm(upload.folder, { recursive: true, force: true });
      ctx.status = 204;
      return;
    }
    if (ctx.method === "GET") return listParts(ctx, route.bucket, upload);
    if (ctx.method === "PUT" && "partNumber" in ctx.query && ctx.get("x-amz-copy-source") === "") {
      return uploadPart(ctx, next, upload);
    }
    if (ctx.method !== "POST") return next();
    const completion = { bucket: route.bucket, key: upload.key, uploadId };
    await conditional.guard(ctx, route, async () => {
      if (await completeUpload(ctx, next, directory, upload, completion)) {
        options.onUploadCompleted?.(completion);
      }
    });
  };
  /** PutObject under its condition; the object it creates is logged like a Complete's. */
  const putObject = async (ctx: KoaContext, next: Next, route: { bucket: string; key: string }) => {
    await conditional.guard(ctx, route, async () => {
      await next();
      if (ctx.status !== 200 || route.bucket !== options.objectBucket) return;
      const creation = { bucket: route.bucket, key: route.key, uploadId: "" };
      await appendFile(join(directory, COMPLETIONS_FILE), `${JSON.stringify(creation)}\n`);
      options.onUploadCompleted?.(creation);
    });
  };
  return async function s3Gaps(ctx: KoaContext, next: Next): Promise<void> {
    const route = parsePath(ctx.path);
    if (route === undefined) return next();
    options.onRequest?.({ operation: operationOf(ctx, route), ...route });
    const uploadId = single(ctx.query["uploadId"]);
    if (route.key === undefined) {
      if (ctx.method === "GET" && "uploads" in ctx.query) {
        return listMultipartUploads(ctx, directory, route.bucket);
      }
      if (ctx.method === "GET" && single(ctx.query["list-type"]) === "2") {
        return listObjectsV2(ctx, next);
      }
      return next();
    }
    if (uploadId === undefined) {
      if (operationOf(ctx, route) === "PutObject")
        return putObject(ctx, next, { bucket: route.bucket, key: route.key });
      return next();
    }
    if (ctx.method !== "POST") return gaps(ctx, next, { bucket: route.bucket, key: route.key }, uploadId);
    const previous = locks.get(uploadId) ?? Promise.resolve();
    let release!: () => void;
    const mine = previous.then(() => new Promise<void>((resolve) => (release = resolve)));
    locks.set(uploadId, mine);
    await previous;
    try {
      await gaps(ctx, next, { bucket: route.bucket, key: route.key }, uploadId);
    } finally {
      release();
      if (locks.get(uploadId) === mine) locks.delete(uploadId);
    }
  };
}

/** Completes through s3rver (after S3's checksum rules) and counts the completion when it created the object. */
async function completeUpload(
  ctx: KoaContext,
  next: Next,
  directory: string,
  upload: Upload,
  completion: { bucket: string; key: string; uploadId: string },
): Promise<boolean> {
  await checkCompleteChecksums(ctx, next, upload);
  const body = ctx.body as { CompleteMultipartUploadResult?: unknown } | undefined;
  if (body?.CompleteMultipartUploadResult === undefined) return false;
  await appendFile(join(directory, COMPLETIONS_FILE), `${JSON.stringify(completion)}\n`);
  return true;
}

/** How many times each key of a bucket was created (CompleteMultipartUpload or PutObject), over the store's life. */
export async function completedUploads(directory: string, bucket: string): Promise<Map<string, number>> {
  let text = "";
  try {
    text = await readFile(join(directory, COMPLETIONS_FILE), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const counts = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const completion = JSON.parse(line) as { bucket: string; key: string };
    if (completion.bucket === bucket) counts.set(completion.key, (counts.get(completion.key) ?? 0) + 1);
  }
  return counts;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function parsePath(path: string): { bucket: string; key?: string } | undefined {
  // The SDK addresses a bucket as `/<bucket>/` (path style) and an object as `/<bucket>/<key>`.
  const match = /^\/([^/]+)(?:\/(.*))?$/.exec(path);
  if (match === null) return undefined;
  const bucket = decodeURIComponent(match[1]!);
  return match[2] === undefined || match[2] === ""
    ? { bucket }
    : { bucket, key: decodeURIComponent(match[2]) };
}

async function listMultipartUploads(ctx: KoaContext, directory: string, bucket: string): Promise<void> {
  const prefix = single(ctx.query["prefix"]) ?? "";
  const uploads = (await listUploads(directory, bucket)).filter((upload) => upload.key.startsWith(prefix));
  ctx.body = {
    ListMultipartUploadsResult: {
      "@": { xmlns: "http://s3.amazonaws.com/doc/2006-03-01/" },
      Bucket: bucket,
      Prefix: prefix,
      MaxUploads: 1000,
      IsTruncated: false,
      Upload: uploads.map((upload) => ({
        Key: upload.key,
        UploadId: upload.uploadId,
        Initiated: upload.initiated.toISOString(),
        StorageClass: "STANDARD",
      })),
    },
  };
}

async function listParts(ctx: KoaContext, bucket: string, upload: Upload): Promise<void> {
  const names = await readdir(upload.folder);
  const numbers = names
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
  const parts = await Promise.all(
    numbers.map(async (partNumber) => {
      const path = join(upload.folder, String(partNumber));
      const [info, md5] = await Promise.all([stat(path), readFile(`${path}.md5`, "utf8")]);
      return {
        PartNumber: partNumber,
        LastModified: info.mtime.toISOString(),
        ETag: `"${md5}"`,
        Size: info.size,
      };
    }),
  );
  ctx.body = {
    ListPartsResult: {
      "@": { xmlns: "http://s3.amazonaws.com/doc/2006-03-01/" },
      Bucket: bucket,
      Key: upload.key,
      UploadId: upload.uploadId,
      MaxParts: 1000,
      IsTruncated: false,
      Part: parts,
    },
  };
}

/**
 * Lets s3rver list one page as if it were the last (so it never builds its DES token), then marks the
 * page truncated itself with a plain token carrying the last key, which it replays as start-after.
 */
async function listObjectsV2(ctx: KoaContext, next: Next): Promise<void> {
  const token = single(ctx.query["continuation-token"]);
  const startAfter = single(ctx.query["start-after"]);
  if (token !== undefined) {
    if (!token.startsWith(TOKEN_PREFIX)) {
      throw new S3Error("InvalidArgument", "The continuation token provided is incorrect", {
        ArgumentName: "continuation-token",
      });
    }
    const query = { ...ctx.query };
    delete query["continuation-token"];
    query["start-after"] = Buffer.from(token.slice(TOKEN_PREFIX.length), "base64url").toString("utf8");
    ctx.querystring = new URLSearchParams(query as Record<string, string>).toString();
  }
  const store = ctx.store;
  let truncated = false;
  ctx.store = Object.assign(Object.create(store) as typeof store, {
    async listObjects(bucket: string, options: Record<string, unknown>) {
      const result = await store.listObjects(bucket, options);
      truncated = result.isTruncated;
      return { ...result, isTruncated: false };
    },
  });
  await next();
  const result = (ctx.body as { ListBucketResult?: Record<string, unknown> } | undefined)?.ListBucketResult;
  if (result === undefined) return;
  result["StartAfter"] = startAfter;
  result["ContinuationToken"] = token;
  result["IsTruncated"] = truncated;
  if (truncated) {
    const contents = result["Contents"] as { Key: string }[];
    const prefixes = result["CommonPrefixes"] as { Prefix: string }[];
    const lastKey = [contents.at(-1)?.Key, prefixes.at(-1)?.Prefix]
      .filter((key): key is string => key !== undefined)
      .sort()
      .at(-1);
    result["NextContinuationToken"] = `${TOKEN_PREFIX}${Buffer.from(lastKey ?? "").toString("base64url")}`;
  }
}
