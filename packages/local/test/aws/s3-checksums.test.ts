import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListPartsCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { transferGranule } from "@hls-s2/core/transfer";
import { createS3Client } from "@hls-s2/functions/lib/clients";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedStores, s3ClientConfig, startEmbeddedStores } from "../../src/aws/embedded";

const MIB = 1024 * 1024;
let stores: EmbeddedStores;
let keyCounter = 0;

beforeAll(async () => {
  stores = await startEmbeddedStores({ dynamo: "dynalite" });
});
afterAll(async () => {
  await stores.close();
});

/** A fresh key per test, so no test sees another's upload. */
function nextKey(): string {
  keyCounter += 1;
  return `checksums/object-${keyCounter}-${randomBytes(4).toString("hex")}.zip`;
}

function md5Base64(bytes: Buffer): string {
  return createHash("md5").update(bytes).digest("base64");
}

async function createUpload(key: string, algorithm?: "CRC32" | "SHA256"): Promise<string> {
  const { UploadId } = await stores.s3.send(
    new CreateMultipartUploadCommand({
      Bucket: stores.bucketName,
      Key: key,
      ...(algorithm !== undefined && { ChecksumAlgorithm: algorithm }),
    }),
  );
  return UploadId!;
}

/** The S3 error an SDK call failed with: its code and HTTP status. */
async function s3Error(promise: Promise<unknown>): Promise<{ name: string; status?: number }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof S3ServiceException) {
      return { name: error.name, status: error.$metadata.httpStatusCode };
    }
    throw error;
  }
  throw new Error("expected the S3 call to fail");
}

describe("the embedded S3's multipart checksum rules", () => {
  it("refuses with InvalidRequest the CRC32 an SDK-default client adds to a part of an upload created without an algorithm", async () => {
    const key = nextKey();
    const uploadId = await createUpload(key);
    // client-s3's own default (WHEN_SUPPORTED): the regression the functions' client factory prevents.
    const sdkDefault = new S3Client({
      ...s3ClientConfig(stores.s3Endpoint),
      requestChecksumCalculation: "WHEN_SUPPORTED",
    });
    try {
      const body = Buffer.alloc(1024, 1);
      const failure = await s3Error(
        sdkDefault.send(
          new UploadPartCommand({
            Bucket: stores.bucketName,
            Key: key,
            UploadId: uploadId,
            PartNumber: 1,
            Body: body,
            ContentMD5: md5Base64(body),
          }),
        ),
      );
      expect(failure).toEqual({ name: "InvalidRequest", status: 400 });
    } finally {
      sdkDefault.destroy();
    }
    const { Parts } = await stores.s3.send(
      new ListPartsCommand({ Bucket: stores.bucketName, Key: key, UploadId: uploadId }),
    );
    expect(Parts ?? []).toEqual([]);
  });

  it("refuses with InvalidRequest a part checksum of another algorithm than the upload's", async () => {
    const key = nextKey();
    const uploadId = await createUpload(key, "CRC32");
    const failure = await s3Error(
      stores.s3.send(
        new UploadPartCommand({
          Bucket: stores.bucketName,
          Key: key,
          UploadId: uploadId,
          PartNumber: 1,
          Body: Buffer.alloc(1024, 2),
          ChecksumAlgorithm: "SHA256",
        }),
      ),
    );
    expect(failure).toEqual({ name: "InvalidRequest", status: 400 });
  });

  it("refuses with InvalidRequest a Complete that lists no part checksums for an upload created with one, and completes once they are listed", async () => {
    const key = nextKey();
    const uploadId = await createUpload(key, "CRC32");
    const part = await stores.s3.send(
      new UploadPartCommand({
        Bucket: stores.bucketName,
        Key: key,
        UploadId: uploadId,
        PartNumber: 1,
        Body: Buffer.alloc(2048, 3),
        ChecksumAlgorithm: "CRC32",
      }),
    );
    expect(part.ChecksumCRC32).toBeUndefined(); // s3rver drops it; the SDK computed and sent it
    const complete = (parts: { PartNumber: number; ETag: string; ChecksumCRC32?: string }[]) =>
      stores.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: stores.bucketName,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    expect(await s3Error(complete([{ PartNumber: 1, ETag: part.ETag! }]))).toEqual({
      name: "InvalidRequest",
      status: 400,
    });
    // The same Complete with the part's CRC32 (of 2048 × 0x03) goes through.
    const crc32 = Buffer.alloc(4);
    crc32.writeUInt32BE(crc32Of(Buffer.alloc(2048, 3)));
    await complete([{ PartNumber: 1, ETag: part.ETag!, ChecksumCRC32: crc32.toString("base64") }]);
    expect((await stores.readObject(key))?.equals(Buffer.alloc(2048, 3))).toBe(true);
  });

  it("refuses with BadDigest a part whose Content-MD5 does not match its bytes, keeping the earlier good part", async () => {
    const key = nextKey();
    const uploadId = await createUpload(key);
    const good = Buffer.alloc(4096, 4);
    const send = (body: Buffer, contentMd5: string) =>
      stores.s3.send(
        new UploadPartCommand({
          Bucket: stores.bucketName,
          Key: key,
          UploadId: uploadId,
          PartNumber: 1,
          Body: body,
          ContentMD5: contentMd5,
        }),
      );
    const accepted = await send(good, md5Base64(good));
    const flipped = Buffer.from(good);
    flipped[100] = 0xff;
    expect(await s3Error(send(flipped, md5Base64(good)))).toEqual({ name: "BadDigest", status: 400 });
    expect(await s3Error(send(good, "not-an-md5"))).toEqual({ name: "InvalidDigest", status: 400 });

    const { Parts } = await stores.s3.send(
      new ListPartsCommand({ Bucket: stores.bucketName, Key: key, UploadId: uploadId }),
    );
    expect(Parts?.map((p) => ({ n: p.PartNumber, etag: p.ETag, size: p.Size }))).toEqual([
      { n: 1, etag: accepted.ETag, size: good.length },
    ]);
  });

  it("lets the functions' own client stream a product through, every part checked against its Content-MD5", async () => {
    const key = nextKey();
    const product = randomBytes(11 * MIB);
    const client = createS3Client(s3ClientConfig(stores.s3Endpoint));
    try {
      const result = await transferGranule(
        {
          granuleId: "g-checksums",
          bucket: stores.bucketName,
          key,
          expectedMd5: createHash("md5").update(product).digest("hex"),
          hub: { openDownload: async () => ({ body: Readable.from([product]), offset: 0 }) },
          s3: client,
        },
        { partSizeBytes: 5 * MIB, queueSize: 2 },
      );
      expect(result.bytes).toBe(product.length);
    } finally {
      client.destroy();
    }
    expect((await stores.readObject(key))?.equals(product)).toBe(true);
  });
});

/** CRC-32 (IEEE), as S3's ChecksumCRC32; Node 20.10 has no zlib.crc32. */
function crc32Of(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
