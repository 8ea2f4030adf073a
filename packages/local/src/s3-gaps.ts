import { randomUUID } from "node:crypto";
import { appendFile, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { KoaContext } from "s3rver";

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
 *   see uploadPart and completeUpload.
 */

const require = createRequire(import.meta.url);
const S3Error = require("s3rver/lib/models/error") as new (
  code: string,
  message?: string,
  detail?: Record<string, unknown>,
) => Error;

const UPLOADS_FOLDER = "._S3rver_uploads";
/** At the store's root, beside the bucket folders: s3rver lists only folders as buckets. */
const COMPLETIONS_FILE = "._S3rver_completions.jsonl";
const TOKEN_PREFIX = "local:";

type Next = () => Promise<void>;

export interface S3GapsOptions {
  /** Called after a CompleteMultipartUpload stored its object, before the answer is sent. */
  onUploadCompleted?: (completion: { bucket: string; key: string; uploadId: string }) => void;
}

/** The middleware filling s3rver's gaps, for the store rooted at `directory`. */
export function s3GapsMiddleware(directory: string, options: S3GapsOptions = {}) {
  // One request at a time per upload id for Complete: the next one then finds the upload gone.
  const locks = new Map<string, Promise<void>>();
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
    if (await completeUpload(ctx, next, directory, upload, completion)) {
      options.onUploadCompleted?.(completion);
    }
  };
  return async function s3Gaps(ctx: KoaContext, next: Next): Promise<void> {
    const route = parsePath(ctx.path);
    if (route === undefined) return next();
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
    if (uploadId === undefined) return next();
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

/** How many times each key of a bucket was created by CompleteMultipartUpload, over the store's life. */
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

interface Upload {
  uploadId: string;
  key: string;
  folder: string;
  initiated: Date;
  /** The `x-amz-checksum-algorithm` CreateMultipartUpload named, lower case; undefined when none. */
  checksumAlgorithm: string | undefined;
}

/** The additional checksum algorithms S3 knows (`x-amz-checksum-<algorithm>` headers). */
const CHECKSUM_ALGORITHMS = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"] as const;
/** Largest CompleteMultipartUpload body read here: 10,000 parts with every checksum fit well below. */
const MAX_COMPLETE_BODY_BYTES = 8 * 1024 * 1024;

/** Every checksum algorithm a part request carries: as a header, as an aws-chunked trailer, or named for the SDK. */
function partChecksumAlgorithms(ctx: KoaContext): string[] {
  const found = new Set<string>();
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    if (ctx.get(`x-amz-checksum-${algorithm}`) !== "") found.add(algorithm);
  }
  for (const trailer of ctx.get("x-amz-trailer").split(",")) {
    const match = /^x-amz-checksum-([a-z0-9]+)$/.exec(trailer.trim().toLowerCase());
    if (match !== null) found.add(match[1]!);
  }
  const named = ctx.get("x-amz-sdk-checksum-algorithm").toLowerCase();
  if (named !== "") found.add(named);
  return [...found];
}

/**
 * UploadPart under S3's rules:
 * - a part's checksum algorithm "must be the same for all parts and it match the checksum value
 *   supplied in the CreateMultipartUpload request" (S3 API reference, UploadPart, ChecksumAlgorithm):
 *   an `x-amz-checksum-*` of any other algorithm — or any at all when Create named none — is a
 *   400 InvalidRequest;
 * - "To ensure that data is not corrupted when traversing the network, specify the Content-MD5
 *   header in the upload part request. Amazon S3 checks the part data against the provided MD5
 *   value. If they do not match, Amazon S3 returns an error" (UploadPart): 400 BadDigest, "the
 *   Content-MD5 you specified did not match what we received" (S3 error code list); a value that is
 *   not a base64 MD5 is 400 InvalidDigest.
 * The MD5 is s3rver's own, computed as the part streams to disk (nothing buffered); the part is
 * written under a temporary name and becomes part N only once it matched, so a rejected part never
 * replaces an earlier good one.
 */
async function uploadPart(ctx: KoaContext, next: Next, upload: Upload): Promise<void> {
  for (const algorithm of partChecksumAlgorithms(ctx)) {
    if (algorithm !== upload.checksumAlgorithm) {
      throw new S3Error(
        "InvalidRequest",
        `Checksum Type mismatch occurred, expected checksum Type: ${upload.checksumAlgorithm ?? "null"}, actual checksum Type: ${algorithm}`,
      );
    }
  }
  const contentMd5 = ctx.get("content-md5");
  if (contentMd5 === "") return next();
  const expected = Buffer.from(contentMd5, "base64");
  if (expected.length !== 16 || expected.toString("base64") !== contentMd5) {
    throw new S3Error("InvalidDigest", "The Content-MD5 you specified was not valid.", {
      "Content-MD5": contentMd5,
    });
  }
  const store = ctx.store;
  ctx.store = Object.assign(Object.create(store) as typeof store, {
    async putPart(bucket: string, uploadId: string, partNumber: string | number, content: unknown) {
      // Unique per request: a retried part may arrive while its first attempt is still streaming.
      const incoming = `${partNumber}.incoming-${randomUUID()}`;
      const result = await store.putPart(bucket, uploadId, incoming, content);
      const staged = join(upload.folder, incoming);
      if (result.md5 !== expected.toString("hex")) {
        await Promise.all([rm(staged, { force: true }), rm(`${staged}.md5`, { force: true })]);
        throw new S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.", {
          ExpectedDigest: contentMd5,
          CalculatedDigest: Buffer.from(result.md5, "hex").toString("base64"),
        });
      }
      const final = join(upload.folder, String(partNumber));
      await rename(`${staged}.md5`, `${final}.md5`);
      await rename(staged, final);
      return result;
    },
  });
  await next();
}

/**
 * CompleteMultipartUpload of an upload created with a checksum algorithm must list each part's
 * checksum: a CompletedPart's `Checksum<ALGORITHM>` "is present if the multipart upload request was
 * created with the <ALGORITHM> checksum algorithm" (S3 API reference, CompletedPart), and S3 answers
 * a Complete without them 400 InvalidRequest "The upload was created using a … checksum. The complete
 * request must include the checksum for each part". The body (a small XML list) is read here and
 * handed on to s3rver unchanged.
 */
async function checkCompleteChecksums(ctx: KoaContext, next: Next, upload: Upload): Promise<void> {
  const algorithm = upload.checksumAlgorithm;
  if (algorithm === undefined) return next();
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > MAX_COMPLETE_BODY_BYTES) {
      throw new S3Error("MaxMessageLengthExceeded", "Your request was too big.");
    }
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  const element = `Checksum${algorithm.toUpperCase()}`;
  for (const part of body.toString("utf8").matchAll(/<Part>([\s\S]*?)<\/Part>/g)) {
    const content = part[1]!;
    if (!new RegExp(`<${element}>[^<]+</${element}>`).test(content)) {
      const number = /<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(content)?.[1] ?? "?";
      throw new S3Error(
        "InvalidRequest",
        `The upload was created using a ${algorithm} checksum. The complete request must include the checksum for each part. It was missing for part ${number} in the request.`,
      );
    }
  }
  // s3rver's controller reads the request stream itself: give it the same bytes again.
  ctx.req = Readable.from([body]) as unknown as KoaContext["req"];
  await next();
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

function uploadsFolder(directory: string, bucket: string): string {
  return join(directory, bucket, UPLOADS_FOLDER);
}

async function readUpload(directory: string, bucket: string, uploadId: string): Promise<Upload | undefined> {
  // An id is a folder name: refuse anything that could walk out of the uploads folder.
  if (!/^[A-Za-z0-9._-]+$/.test(uploadId) || uploadId.startsWith(".")) return undefined;
  const folder = join(uploadsFolder(directory, bucket), uploadId);
  try {
    const [key, info, metadata] = await Promise.all([
      readFile(join(folder, "key"), "utf8"),
      stat(folder),
      // s3rver keeps the Create request's headers here, x-amz-checksum-algorithm among them.
      readFile(join(folder, "metadata"), "utf8").catch(() => "{}"),
    ]);
    const algorithm = (JSON.parse(metadata) as Record<string, unknown>)["x-amz-checksum-algorithm"];
    return {
      uploadId,
      key,
      folder,
      initiated: info.birthtime,
      checksumAlgorithm:
        typeof algorithm === "string" && algorithm !== "" ? algorithm.toLowerCase() : undefined,
    };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Every unfinished upload of a bucket, oldest first (what ListMultipartUploads answers). */
export async function listUploads(directory: string, bucket: string): Promise<Upload[]> {
  let names: string[];
  try {
    names = await readdir(uploadsFolder(directory, bucket));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const uploads = await Promise.all(names.map((name) => readUpload(directory, bucket, name)));
  return uploads
    .filter((upload): upload is Upload => upload !== undefined)
    .sort((a, b) => a.key.localeCompare(b.key) || a.initiated.getTime() - b.initiated.getTime());
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
