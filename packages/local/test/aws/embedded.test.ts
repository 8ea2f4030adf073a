import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DescribeTableCommand, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  paginateListObjectsV2,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it } from "vitest";
import { dynamoDbLocalAvailable } from "../../src/aws/dynamo-server";
import { type DynamoBackend, type EmbeddedStores, startEmbeddedStores } from "../../src/aws/embedded";

// DynamoDB Local is the local mode's store wherever a JDK runs (these machines have Java 17); the
// S3 tests below do not care which DynamoDB serves and take the faster dynalite.
const BACKENDS: DynamoBackend[] = dynamoDbLocalAvailable() ? ["dynamodb-local", "dynalite"] : ["dynalite"];

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "hls-s2-embedded-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function start(dataDir?: string, dynamo: DynamoBackend = "dynalite"): Promise<EmbeddedStores> {
  const stores = await startEmbeddedStores({ dataDir, dynamo });
  cleanups.push(() => stores.close());
  return stores;
}

async function startUpload(stores: EmbeddedStores, key: string) {
  const { UploadId } = await stores.s3.send(
    new CreateMultipartUploadCommand({ Bucket: stores.bucketName, Key: key }),
  );
  const part = await stores.s3.send(
    new UploadPartCommand({
      Bucket: stores.bucketName,
      Key: key,
      UploadId,
      PartNumber: 1,
      Body: Buffer.alloc(1024, 7),
    }),
  );
  return { uploadId: UploadId!, etag: part.ETag! };
}

describe.each(BACKENDS)("startEmbeddedStores with %s", (backend) => {
  it("creates the granule table with the status index and both buckets on loopback", async () => {
    const stores = await start(undefined, backend);
    expect(stores.dynamoBackend).toBe(backend);
    expect(stores.dynamoEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stores.s3Endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const { Table } = await stores.dynamo.send(new DescribeTableCommand({ TableName: stores.tableName }));
    expect(Table?.KeySchema).toEqual([{ AttributeName: "pk", KeyType: "HASH" }]);
    expect(Table?.GlobalSecondaryIndexes?.[0]).toMatchObject({
      IndexName: "byDayShardStatus",
      KeySchema: [
        { AttributeName: "dayShard", KeyType: "HASH" },
        { AttributeName: "status", KeyType: "RANGE" },
      ],
    });
    await stores.s3.send(new PutObjectCommand({ Bucket: stores.workBucketName, Key: "a.json", Body: "[]" }));
    const object = await stores.s3.send(
      new GetObjectCommand({ Bucket: stores.workBucketName, Key: "a.json" }),
    );
    expect(await object.Body?.transformToString()).toBe("[]");
  });

  it("keeps table items and objects across a restart on the same data folder", async () => {
    const dataDir = await tempDir();
    const first = await startEmbeddedStores({ dataDir, dynamo: backend });
    await first.dynamo.send(
      new PutItemCommand({ TableName: first.tableName, Item: { pk: { S: "granule#g1" } } }),
    );
    await first.s3.send(new PutObjectCommand({ Bucket: first.bucketName, Key: "g1.zip", Body: "bytes" }));
    await first.close();

    const second = await start(dataDir, backend);
    const item = await second.dynamo.send(
      new GetItemCommand({ TableName: second.tableName, Key: { pk: { S: "granule#g1" } } }),
    );
    expect(item.Item?.["pk"]).toEqual({ S: "granule#g1" });
    const object = await second.s3.send(new GetObjectCommand({ Bucket: second.bucketName, Key: "g1.zip" }));
    expect(await object.Body?.transformToString()).toBe("bytes");
  });
});

describe("the S3 operations s3rver lacks", () => {
  it("lists an unfinished multipart upload and forgets it once aborted", async () => {
    const stores = await start();
    const { uploadId } = await startUpload(stores, "dir/S2A_unfinished.zip");
    const listed = await stores.s3.send(new ListMultipartUploadsCommand({ Bucket: stores.bucketName }));
    expect(listed.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([["dir/S2A_unfinished.zip", uploadId]]);

    await stores.s3.send(
      new AbortMultipartUploadCommand({
        Bucket: stores.bucketName,
        Key: "dir/S2A_unfinished.zip",
        UploadId: uploadId,
      }),
    );
    const after = await stores.s3.send(new ListMultipartUploadsCommand({ Bucket: stores.bucketName }));
    expect(after.Uploads ?? []).toEqual([]);
  });

  it("answers NoSuchUpload to a part sent to an aborted upload", async () => {
    const stores = await start();
    const { uploadId } = await startUpload(stores, "S2B_aborted.zip");
    const key = { Bucket: stores.bucketName, Key: "S2B_aborted.zip", UploadId: uploadId };
    await stores.s3.send(new AbortMultipartUploadCommand(key));
    await expect(
      stores.s3.send(new UploadPartCommand({ ...key, PartNumber: 2, Body: "x" })),
    ).rejects.toMatchObject({
      name: "NoSuchUpload",
    });
    await expect(stores.s3.send(new AbortMultipartUploadCommand(key))).rejects.toMatchObject({
      name: "NoSuchUpload",
    });
    const listed = await stores.s3.send(new ListMultipartUploadsCommand({ Bucket: stores.bucketName }));
    expect(listed.Uploads ?? []).toEqual([]);
  });

  it("lists the parts of an upload and still completes it", async () => {
    const stores = await start();
    const { uploadId, etag } = await startUpload(stores, "S2C_parts.zip");
    const key = { Bucket: stores.bucketName, Key: "S2C_parts.zip", UploadId: uploadId };
    const parts = await stores.s3.send(new ListPartsCommand(key));
    expect(parts.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size])).toEqual([[1, etag, 1024]]);
    await stores.s3.send(
      new CompleteMultipartUploadCommand({
        ...key,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: etag }] },
      }),
    );
    const object = await stores.s3.send(
      new GetObjectCommand({ Bucket: stores.bucketName, Key: "S2C_parts.zip" }),
    );
    expect((await object.Body!.transformToByteArray()).length).toBe(1024);
  });

  it("pages ListObjectsV2 without OpenSSL's legacy provider", async () => {
    const stores = await start();
    const keys = Array.from({ length: 7 }, (_, i) => `page/k${i}.zip`);
    for (const key of keys)
      await stores.s3.send(new PutObjectCommand({ Bucket: stores.bucketName, Key: key, Body: key }));
    const seen: string[] = [];
    let pages = 0;
    for await (const page of paginateListObjectsV2(
      { client: stores.s3, pageSize: 3 },
      { Bucket: stores.bucketName, Prefix: "page/" },
    )) {
      pages++;
      seen.push(...(page.Contents ?? []).map((object) => object.Key!));
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(keys);
  });
});
