import { randomUUID } from "node:crypto";
import { rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { KoaContext } from "s3rver";
import { type Next, S3Error, type Upload } from "./s3rver-uploads";

// S3's checksum rules for multipart uploads, which s3rver ignores (see s3-gaps.ts).

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
export async function uploadPart(ctx: KoaContext, next: Next, upload: Upload): Promise<void> {
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
export async function checkCompleteChecksums(ctx: KoaContext, next: Next, upload: Upload): Promise<void> {
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
