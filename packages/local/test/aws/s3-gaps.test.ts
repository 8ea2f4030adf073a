import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import type { KoaContext } from "s3rver";
import { afterEach, describe, expect, it } from "vitest";
import { type EmbeddedStores, startEmbeddedStores } from "../../src/aws/embedded";
import { ConditionalWrites } from "../../src/aws/s3-conditional";
import { completedUploads } from "../../src/aws/s3-gaps";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function start(completions: string[] = []): Promise<EmbeddedStores> {
  const stores = await startEmbeddedStores({
    dynamo: "dynalite",
    onUploadCompleted: ({ key }) => completions.push(key),
  });
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

// The S3 API reference, PutObject and CompleteMultipartUpload, If-None-Match: "Uploads the object only if
// the object key name does not already exist in the bucket specified. Otherwise, Amazon S3 returns a 412
// Precondition Failed error. If a conflicting operation occurs during the upload S3 returns a 409
// ConditionalRequestConflict response."
describe("the embedded S3's conditional writes", () => {
  async function answer(promise: Promise<unknown>): Promise<string | number> {
    try {
      await promise;
      return 200;
    } catch (error) {
      return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? -1;
    }
  }

  it("returns a 412 Precondition Failed to a PutObject with If-None-Match: * when the object key name already exists", async () => {
    const stores = await start();
    const put = (body: string) =>
      stores.s3.send(
        new PutObjectCommand({ Bucket: stores.bucketName, Key: "put.zip", Body: body, IfNoneMatch: "*" }),
      );

    expect(await answer(put("first"))).toBe(200);
    const refused = await put("second").catch((error: Error) => error);

    expect(refused).toMatchObject({ name: "PreconditionFailed", $metadata: { httpStatusCode: 412 } });
    expect((await stores.readObject("put.zip"))?.toString()).toBe("first");
    expect(await completedUploads(stores.s3Directory, stores.bucketName)).toEqual(new Map([["put.zip", 1]]));
  });

  it("returns a 412 Precondition Failed to a CompleteMultipartUpload with If-None-Match: * when the key exists, and keeps the upload", async () => {
    const stores = await start();
    await stores.s3.send(
      new PutObjectCommand({ Bucket: stores.bucketName, Key: "taken.zip", Body: "first" }),
    );
    const complete = await uploadOnePart(stores, "taken.zip");
    complete.input.IfNoneMatch = "*";

    const refused = await stores.s3.send(complete).catch((error: Error) => error);

    expect(refused).toMatchObject({ name: "PreconditionFailed", $metadata: { httpStatusCode: 412 } });
    expect((await stores.readObject("taken.zip"))?.toString()).toBe("first");
    const open = await stores.s3.send(new ListMultipartUploadsCommand({ Bucket: stores.bucketName }));
    expect(open.Uploads?.map((upload) => upload.Key)).toEqual(["taken.zip"]);
  });

  it("returns a 409 ConditionalRequestConflict to a conditional write of a key while another one runs", async () => {
    const writes = new ConditionalWrites();
    const ctx = {
      get: (field: string) => (field === "if-none-match" ? "*" : ""),
      store: { existsObject: async () => false },
    } as unknown as KoaContext;
    const route = { bucket: "b", key: "raced.zip" };
    let finish!: () => void;
    const running = writes.guard(ctx, route, () => new Promise<void>((resolve) => (finish = resolve)));

    const refused = await writes.guard(ctx, route, async () => undefined).catch((error: Error) => error);
    finish();
    await running;

    expect(refused).toMatchObject({ code: "ConditionalRequestConflict", status: 409 });
    // Once the first write ended the key is free again for the condition (412 if it now exists).
    await expect(writes.guard(ctx, route, async () => undefined)).resolves.toBeUndefined();
  });

  it("creates one object when two conditional Completes of one key race (409 or 412 for the loser)", async () => {
    const stores = await start();
    const first = await uploadOnePart(stores, "raced-key.zip");
    const second = await uploadOnePart(stores, "raced-key.zip");
    first.input.IfNoneMatch = "*";
    second.input.IfNoneMatch = "*";

    const answers = await Promise.all([stores.s3.send(first), stores.s3.send(second)].map(answer));

    // One wins; the other sees the write in progress (409) or, when it came after, the key (412).
    expect(answers.filter((status) => status === 200)).toHaveLength(1);
    expect(answers.filter((status) => status === 409 || status === 412)).toHaveLength(1);
    expect(await completedUploads(stores.s3Directory, stores.bucketName)).toEqual(
      new Map([["raced-key.zip", 1]]),
    );
  });

  it("writes as before without the header, and logs every request by S3 operation", async () => {
    const stores = await start();
    await stores.s3.send(new PutObjectCommand({ Bucket: stores.bucketName, Key: "plain.zip", Body: "a" }));
    await stores.s3.send(new PutObjectCommand({ Bucket: stores.bucketName, Key: "plain.zip", Body: "b" }));

    expect((await stores.readObject("plain.zip"))?.toString()).toBe("b");
    expect(stores.s3Requests.filter((r) => r.key === "plain.zip").map((r) => r.operation)).toEqual([
      "PutObject",
      "PutObject",
      "GetObject",
    ]);
  });
});
