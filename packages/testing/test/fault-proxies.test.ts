import { DynamoDBClient, GetItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { CreateMultipartUploadCommand, UploadPartCommand } from "@aws-sdk/client-s3";
import { createS3Client } from "@hls-s2/functions/lib/clients";
import { dynamoClientConfig, s3ClientConfig, startEmbeddedStores } from "@hls-s2/local";
import { describe, expect, it } from "vitest";
import { useCleanups } from "../src/data-folder";
import { startLossyProxy } from "../src/lossy-proxy";
import { stallS3Parts } from "../src/stalled-s3";

const cleanups = useCleanups();

async function stores() {
  const embedded = await startEmbeddedStores({ dynamo: "dynalite" });
  cleanups.add(() => embedded.close());
  return embedded;
}

describe("the stalled-S3-part proxy", () => {
  it("holds the chosen UploadPart without an answer and forwards the others", async () => {
    const embedded = await stores();
    const proxy = await stallS3Parts(embedded.s3Endpoint, (part) => part.partNumber === 2);
    cleanups.add(() => proxy.close());
    const s3 = createS3Client({ ...s3ClientConfig(proxy.url), maxAttempts: 1 });
    cleanups.add(async () => s3.destroy());
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: embedded.bucketName, Key: "a.zip" }),
    );
    const part = (n: number, signal?: AbortSignal) =>
      s3.send(
        new UploadPartCommand({
          Bucket: embedded.bucketName,
          Key: "a.zip",
          UploadId,
          PartNumber: n,
          Body: Buffer.alloc(1024, n),
        }),
        { abortSignal: signal },
      );

    await expect(part(1)).resolves.toMatchObject({ ETag: expect.any(String) });
    // No answer within a second: only the caller's own deadline ends the wait.
    await expect(part(2, AbortSignal.timeout(1000))).rejects.toThrow();
    expect(proxy.stalledParts).toEqual([
      { bucket: embedded.bucketName, key: "a.zip", partNumber: 2, uploadId: UploadId, ordinal: 2 },
    ]);
  });
});

describe("the lost-response DynamoDB proxy", () => {
  it("lets the table apply a write, resets the connection, and the SDK's retry applies it again", async () => {
    const embedded = await stores();
    const proxy = await startLossyProxy(embedded.dynamoEndpoint);
    proxy.loseNext((request) => request.operation === "UpdateItem");
    cleanups.add(() => proxy.close());
    const client = new DynamoDBClient(dynamoClientConfig(proxy.endpoint));
    cleanups.add(async () => client.destroy());
    const key = { pk: { S: "fetch#2026-03-14#S2A" } };

    // Act: one ADD, whose first answer is lost.
    await client.send(
      new UpdateItemCommand({
        TableName: embedded.tableName,
        Key: key,
        UpdateExpression: "ADD #recorded :one",
        ExpressionAttributeNames: { "#recorded": "recorded" },
        ExpressionAttributeValues: { ":one": { N: "1" } },
      }),
    );

    // Assess: applied twice, which is why a counter ADD is not idempotent.
    const { Item } = await embedded.dynamo.send(
      new GetItemCommand({ TableName: embedded.tableName, Key: key, ConsistentRead: true }),
    );
    expect(Item?.["recorded"]).toEqual({ N: "2" });
    expect(proxy.lost.map((request) => request.operation)).toEqual(["UpdateItem"]);
  });
});
