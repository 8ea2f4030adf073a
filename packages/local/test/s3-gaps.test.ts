import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it } from "vitest";
import { type EmbeddedStores, startEmbeddedStores } from "../src/embedded";
import { completedUploads } from "../src/s3-gaps";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function start(completions: string[] = []): Promise<EmbeddedStores> {
  const stores = await startEmbeddedStores({ onUploadCompleted: ({ key }) => completions.push(key) });
  cleanups.push(() => stores.close());
  return stores;
}

async function uploadOnePart(stores: EmbeddedStores, key: string) {
  const { UploadId } = await stores.s3.send(
    new CreateMultipartUploadCommand({ Bucket: stores.bucketName, Key: key }),
  );
  const part = await stores.s3.send(
    new UploadPartCommand({
      Bucket: stores.bucketName,
      Key: key,
      UploadId,
      PartNumber: 1,
      Body: Buffer.alloc(2048, 3),
    }),
  );
  return new CompleteMultipartUploadCommand({
    Bucket: stores.bucketName,
    Key: key,
    UploadId,
    MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] },
  });
}

async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "completed";
  } catch (error) {
    return (error as Error).name;
  }
}

describe("the embedded S3's CompleteMultipartUpload", () => {
  it("answers NoSuchUpload to a second Complete of a completed upload and counts one completion", async () => {
    const completions: string[] = [];
    const stores = await start(completions);
    const complete = await uploadOnePart(stores, "once.zip");

    expect(await outcome(stores.s3.send(complete))).toBe("completed");
    expect(await outcome(stores.s3.send(complete))).toBe("NoSuchUpload");

    expect(await stores.readObject("once.zip")).toHaveLength(2048);
    expect(await completedUploads(stores.s3Directory, stores.bucketName)).toEqual(new Map([["once.zip", 1]]));
    expect(completions).toEqual(["once.zip"]);
  });

  it("creates the object once when two Completes of one upload race", async () => {
    const stores = await start();
    const complete = await uploadOnePart(stores, "raced.zip");

    const outcomes = await Promise.all([stores.s3.send(complete), stores.s3.send(complete)].map(outcome));

    expect(outcomes.sort()).toEqual(["NoSuchUpload", "completed"]);
    expect(await completedUploads(stores.s3Directory, stores.bucketName)).toEqual(
      new Map([["raced.zip", 1]]),
    );
  });
});
