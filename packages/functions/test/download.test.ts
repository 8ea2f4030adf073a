import { createHash } from "node:crypto";
import { objectKeyFor } from "@hls-s2/core/domain";
import { GranuleGoneError, HubUnavailableError } from "@hls-s2/core/errors";
import type { Hub } from "@hls-s2/core/hub";
import { aGranuleOfItsOwnDay } from "@hls-s2/testing/granules";
import { rejection } from "@hls-s2/testing/rejection";
import { describe, expect, it } from "vitest";
import { handler } from "../src/download";
import { configureRuntime } from "../src/lib/runtime";
import { fakeHub, lambdaEnv, memoryS3, useLocalTable } from "./helpers/local";

const MIB = 1024 * 1024;
const table = useLocalTable();

/** 6 MiB of bytes that differ per call: two parts at the 5 MiB part size of lambdaEnv(). */
function aProduct(): Buffer {
  const seed = createHash("sha256").update(String(Math.random())).digest();
  return Buffer.concat(Array.from({ length: (6 * MIB) / seed.length }, () => seed));
}

/** A recorded granule, the runtime bound to dynalite, a memory S3 and `hub`, and the handler's event. */
async function setUp(hub: Hub, env: Record<string, string> = {}) {
  const { granule, day } = aGranuleOfItsOwnDay();
  await table.store.recordDiscovered(granule, day);
  const { s3, bucket } = memoryS3();
  configureRuntime({ env: lambdaEnv(env), clients: { dynamo: table.documentClient, s3 }, hub });
  const event = {
    granuleId: granule.granuleId,
    owner: `arn:aws:states:us-east-1:1:execution:dl/${granule.granuleId}`,
  };
  return { granule, bucket, event };
}

describe("download handler", () => {
  it("downloads and verifies the granule into the upload bucket and marks it downloaded", async () => {
    const body = aProduct();
    const { granule, bucket, event } = await setUp(fakeHub(body), { OBJECT_PREFIX: "l1c" });

    const result = await handler(event, { getRemainingTimeInMillis: () => 900_000 });

    const key = objectKeyFor(granule.name, "l1c");
    expect(result).toMatchObject({
      granuleId: granule.granuleId,
      outcome: "downloaded",
      key,
      bytes: body.length,
    });
    expect(bucket.objects.get(key)?.equals(body)).toBe(true);
    expect(await table.store.getGranule(granule.granuleId)).toMatchObject({
      status: "DOWNLOADED",
      s3Key: key,
    });
  });

  it("answers already-downloaded when called again for the same granule", async () => {
    const { event } = await setUp(fakeHub(aProduct()));
    await handler(event);

    const again = await handler({ ...event, owner: `${event.owner}-redrive` });

    expect(again.outcome).toBe("already-downloaded");
  });

  it("refuses a product that is no zip with the terminal ArchiveInvalidError when ZIP_CHECK is on, leaving no object", async () => {
    const { bucket, event } = await setUp(fakeHub(aProduct()), { ZIP_CHECK: "true" });

    const error = await rejection(handler(event, { getRemainingTimeInMillis: () => 900_000 }));

    expect(error.name).toBe("ArchiveInvalidError");
    expect(bucket.objects.size).toBe(0);
  });

  it("propagates the retryable HubUnavailableError by name", async () => {
    const hub = fakeHub(aProduct(), {
      async getChecksum() {
        throw new HubUnavailableError("hub answered 503", { status: 503 });
      },
    });
    const { event } = await setUp(hub);

    expect((await rejection(handler(event))).name).toBe("HubUnavailableError");
  });

  it("stops before the Lambda timeout with the retryable TransferInterruptedError", async () => {
    const { event } = await setUp(fakeHub(aProduct()));

    // 60 s left is exactly the margin: the attempt has no working time and must checkpoint and stop.
    const error = await rejection(handler(event, { getRemainingTimeInMillis: () => 60_000 }));

    expect(error.name).toBe("TransferInterruptedError");
  });

  it("propagates the terminal ChecksumMismatchError by name and leaves no object", async () => {
    const hub = fakeHub(aProduct(), {
      async getChecksum() {
        return "f".repeat(32);
      },
    });
    const { granule, bucket, event } = await setUp(hub);

    expect((await rejection(handler(event))).name).toBe("ChecksumMismatchError");
    expect(bucket.objects.has(objectKeyFor(granule.name))).toBe(false);
  });

  it("propagates the terminal GranuleGoneError by name", async () => {
    const holder: { id?: string } = {};
    const hub = fakeHub(aProduct(), {
      async openDownload() {
        throw new GranuleGoneError(holder.id ?? "?", 410);
      },
    });
    const { granule, event } = await setUp(hub);
    holder.id = granule.granuleId;

    const error = await rejection(handler(event));

    expect(error).toBeInstanceOf(GranuleGoneError);
    expect(error.name).toBe("GranuleGoneError");
  });
});
