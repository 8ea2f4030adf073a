import { createHash } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3ServiceException,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { rejection } from "@hls-s2/testing/rejection";
import { describe, expect, it } from "vitest";
import { transferGranule } from "../../../src/adapters/transfer/transfer";
import { ChecksumMismatchError, ConditionalWriteConflictError } from "../../../src/domain/errors";
import type { UploadProgress } from "../../../src/domain/granule";
import { fakeHub, memoryS3, offlineS3Client, uniqueGranule } from "../../helpers/s3";

const MIB = 1024 * 1024;
const PART = 5 * MIB;
const BUCKET = "uploads";

describe("transferGranule's writes of the object", () => {
  it("puts a product that fits in one part with one PutObject carrying Content-MD5 and If-None-Match: *", async () => {
    // Prepare
    const s3 = offlineS3Client();
    const { mock, state } = memoryS3(s3);
    const hub = fakeHub({ size: PART });
    const { granuleId, key } = uniqueGranule();
    const progress: UploadProgress[] = [];

    // Act
    const result = await transferGranule(
      { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3 },
      { partSizeBytes: PART, onProgress: async (p) => void progress.push(p) },
    );

    // Assess
    expect(result).toMatchObject({ key, bytes: PART, md5: hub.md5, publication: "now" });
    const puts = mock.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
    expect(puts).toHaveLength(1);
    const body = state.objects.get(key)!;
    expect(puts[0]).toMatchObject({
      Key: key,
      IfNoneMatch: "*",
      ContentMD5: createHash("md5").update(body).digest("base64"),
      Metadata: { "hub-id": granuleId, md5: hub.md5 },
    });
    expect(mock.commandCalls(CreateMultipartUploadCommand)).toHaveLength(0);
    expect(mock.commandCalls(UploadPartCommand)).toHaveLength(0);
    expect(mock.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
    // Nothing was created that could be orphaned, so nothing needed recording.
    expect(progress).toEqual([]);
  });

  it("sends nothing when a one-part product's MD5 differs", async () => {
    const s3 = offlineS3Client();
    const { mock, state } = memoryS3(s3);
    const hub = fakeHub({ size: 1234 });
    const { granuleId, key } = uniqueGranule();

    const error = await rejection(
      transferGranule(
        { granuleId, bucket: BUCKET, key, expectedMd5: "0".repeat(32), hub, s3 },
        { partSizeBytes: PART },
      ),
    );

    expect(error).toBeInstanceOf(ChecksumMismatchError);
    expect(mock.calls()).toHaveLength(0);
    expect(state.objects.size).toBe(0);
  });

  it("takes a 412 on PutObject as the key written before, and leaves that object as it was", async () => {
    const s3 = offlineS3Client();
    const { state } = memoryS3(s3);
    const hub = fakeHub({ size: 4321 });
    const { granuleId, key } = uniqueGranule();
    const earlier = Buffer.from("the earlier write");
    state.objects.set(key, earlier);

    const result = await transferGranule(
      { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3 },
      { partSizeBytes: PART },
    );

    expect(result).toMatchObject({ key, publication: "key-existed" });
    expect(state.objects.get(key)).toBe(earlier);
  });

  it("takes a 412 on CompleteMultipartUpload as the key written before: aborts our upload, no second object", async () => {
    const s3 = offlineS3Client();
    const { mock, state } = memoryS3(s3);
    const hub = fakeHub({ size: 2 * PART + 7 });
    const { granuleId, key } = uniqueGranule();
    const earlier = Buffer.from("the earlier write");
    state.objects.set(key, earlier);

    const result = await transferGranule(
      { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3 },
      { partSizeBytes: PART },
    );

    expect(result).toMatchObject({ key, publication: "key-existed" });
    expect(mock.commandCalls(CompleteMultipartUploadCommand)[0]!.args[0].input.IfNoneMatch).toBe("*");
    const [upload] = [...state.uploads.values()];
    expect(upload!.state).toBe("aborted");
    expect(state.objects.get(key)).toBe(earlier);
  });

  it("on a 409 forgets the completing upload in the table first, then aborts it, and raises the retryable conflict", async () => {
    const s3 = offlineS3Client();
    const { mock, state } = memoryS3(s3);
    mock.on(CompleteMultipartUploadCommand).rejects(
      new S3ServiceException({
        name: "ConditionalRequestConflict",
        $fault: "client",
        $metadata: { httpStatusCode: 409 },
        message: "A conflicting operation occurred.",
      }),
    );
    const hub = fakeHub({ size: 2 * PART + 7 });
    const { granuleId, key } = uniqueGranule();
    const recorded: { progress: UploadProgress; aborts: number }[] = [];

    const error = await rejection(
      transferGranule(
        { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3 },
        {
          partSizeBytes: PART,
          onProgress: async (progress) => {
            recorded.push({ progress, aborts: mock.commandCalls(AbortMultipartUploadCommand).length });
          },
        },
      ),
    );

    expect(error).toBeInstanceOf(ConditionalWriteConflictError);
    expect(error).toMatchObject({ name: "ConditionalWriteConflictError", retryable: true, key });
    const last = recorded.at(-1)!;
    expect(last.progress).toMatchObject({ uploadId: "", parts: [], bytes: 0 });
    expect(last.aborts).toBe(0);
    expect(recorded.at(-2)!.progress.completing).toEqual({ md5: hub.md5 });
    expect(mock.commandCalls(AbortMultipartUploadCommand)).toHaveLength(1);
    expect([...state.uploads.values()][0]!.state).toBe("aborted");
    expect(state.objects.has(key)).toBe(false);
  });
});
