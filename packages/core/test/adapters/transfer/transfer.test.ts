import { createHash } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { rejection } from "@hls-s2/testing/rejection";
import { createMD5 } from "hash-wasm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { TransferOptions } from "../../../src/adapters/transfer/options";
import { transferGranule } from "../../../src/adapters/transfer/transfer";
import {
  ChecksumMismatchError,
  GranuleGoneError,
  InvalidInputError,
  LeaseLostError,
  TransferInterruptedError,
} from "../../../src/domain/errors";
import type { UploadProgress } from "../../../src/domain/granule";
import {
  type BreakMode,
  fakeHub,
  type LocalS3,
  memoryS3,
  offlineS3Client,
  productMd5,
  productSlice,
  startLocalS3,
  uniqueGranule,
} from "../../helpers/s3";

const MIB = 1024 * 1024;
const PART = 5 * MIB;
const BUCKET = "uploads";

function md5Of(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("hex");
}

describe("transferGranule against s3rver", () => {
  let s3Server: LocalS3;

  beforeAll(async () => {
    s3Server = await startLocalS3([BUCKET]);
  });

  afterAll(async () => {
    await s3Server.close();
  });

  it("stores the verified product with its hub id and MD5 as metadata", async () => {
    const s3 = s3Server.client();
    const hub = fakeHub({ size: 2 * PART + 12_345 });
    const { granuleId, key } = uniqueGranule();

    const result = await transferGranule(
      { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5.toUpperCase(), hub, s3 },
      { partSizeBytes: PART },
    );

    expect(result).toMatchObject({ key, bytes: hub.size, md5: hub.md5, resumedFromBytes: 0, restarts: 0 });
    expect(result.fetchedBytes).toBe(hub.size);
    const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(md5Of(await object.Body!.transformToByteArray())).toBe(hub.md5);
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(head.Metadata).toMatchObject({ "hub-id": granuleId, md5: hub.md5 });
    expect(head.ContentType).toBe("application/zip");
    expect(head.ContentLength).toBe(hub.size);
  });

  it("leaves no object behind when the MD5 differs", async () => {
    const s3 = s3Server.client();
    const hub = fakeHub({ size: PART + 1000 });
    const { granuleId, key } = uniqueGranule();
    const wrongMd5 = "0".repeat(32);

    const error = await rejection(
      transferGranule(
        { granuleId, bucket: BUCKET, key, expectedMd5: wrongMd5, hub, s3 },
        { partSizeBytes: PART },
      ),
    );

    expect(error).toBeInstanceOf(ChecksumMismatchError);
    expect(error).toMatchObject({
      name: "ChecksumMismatchError",
      granuleId,
      expectedMd5: wrongMd5,
      actualMd5: hub.md5,
    });
    const head = await rejection(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })));
    expect(head).toMatchObject({ $metadata: { httpStatusCode: 404 } });
  });

  it("resumes a broken body with a Range request into the same upload", async () => {
    const s3 = s3Server.client();
    const size = 3 * PART + 777;
    const hub = fakeHub({ size, breakAfter: [Math.floor(size * 0.7)] });
    const { granuleId, key } = uniqueGranule();
    const checkpoints: UploadProgress[] = [];

    const result = await transferGranule(
      { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3 },
      { partSizeBytes: PART, onProgress: async (progress) => void checkpoints.push(progress) },
    );

    expect(hub.opens).toHaveLength(2);
    expect(hub.opens[1]!.requested).toBeGreaterThan(0);
    expect(hub.opens[1]!.served).toBe(hub.opens[1]!.requested);
    expect(result).toMatchObject({ bytes: size, md5: hub.md5, resumes: 1, restarts: 0 });
    expect(hub.servedBytes()).toBeLessThanOrEqual(size * 1.35);
    expect(result.fetchedBytes).toBe(hub.servedBytes());
    expect(new Set(checkpoints.map((checkpoint) => checkpoint.uploadId)).size).toBe(1);
    const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(md5Of(await object.Body!.transformToByteArray())).toBe(hub.md5);
  });

  it("continues an upload interrupted by its signal in the next attempt, fetching only the remainder", async () => {
    const s3 = s3Server.client();
    const size = 4 * PART + 4321;
    const seed = 424_242;
    const firstHub = fakeHub({ size, seed });
    const { granuleId, key } = uniqueGranule();
    const controller = new AbortController();
    const firstCheckpoints: UploadProgress[] = [];

    const error = await rejection(
      transferGranule(
        { granuleId, bucket: BUCKET, key, expectedMd5: firstHub.md5, hub: firstHub, s3 },
        {
          partSizeBytes: PART,
          queueSize: 1,
          signal: controller.signal,
          onProgress: async (progress) => {
            firstCheckpoints.push(progress);
            if (progress.bytes >= 2 * PART) controller.abort();
          },
        },
      ),
    );

    expect(error).toBeInstanceOf(TransferInterruptedError);
    const checkpoint = firstCheckpoints.at(-1)!;
    expect(checkpoint.bytes).toBeGreaterThanOrEqual(2 * PART);
    expect(checkpoint.bytes).toBeLessThan(size);
    expect(checkpoint.parts.map((part) => part.PartNumber)).toEqual(
      Array.from({ length: checkpoint.parts.length }, (_, index) => index + 1),
    );
    expect((error as TransferInterruptedError).bytesTransferred).toBe(checkpoint.bytes);
    const missing = await rejection(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })));
    expect(missing).toMatchObject({ $metadata: { httpStatusCode: 404 } });

    const secondHub = fakeHub({ size, seed });
    const secondCheckpoints: UploadProgress[] = [];
    const result = await transferGranule(
      { granuleId, bucket: BUCKET, key, expectedMd5: secondHub.md5, hub: secondHub, s3, resume: checkpoint },
      { partSizeBytes: PART, onProgress: async (progress) => void secondCheckpoints.push(progress) },
    );

    expect(result).toMatchObject({
      bytes: size,
      md5: secondHub.md5,
      resumedFromBytes: checkpoint.bytes,
      restarts: 0,
    });
    expect(secondHub.opens[0]!.requested).toBe(checkpoint.bytes);
    expect(result.fetchedBytes).toBe(size - checkpoint.bytes);
    expect(secondHub.servedBytes()).toBe(size - checkpoint.bytes);
    for (const later of secondCheckpoints) expect(later.uploadId).toBe(checkpoint.uploadId);
    const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(md5Of(await object.Body!.transformToByteArray())).toBe(secondHub.md5);
  });
});

describe("transferGranule with a mocked S3", () => {
  it("aborts the multipart upload and never completes it when the MD5 differs", async () => {
    const s3 = offlineS3Client();
    const { mock } = memoryS3(s3);
    const hub = fakeHub({ size: 2 * PART + 10 });
    const { granuleId, key } = uniqueGranule();
    const wrongMd5 = "f".repeat(32);

    const error = await rejection(
      transferGranule(
        { granuleId, bucket: BUCKET, key, expectedMd5: wrongMd5, hub, s3 },
        { partSizeBytes: PART },
      ),
    );

    expect(error).toBeInstanceOf(ChecksumMismatchError);
    expect(error).toMatchObject({ expectedMd5: wrongMd5, actualMd5: hub.md5 });
    const uploadId = (await mock.commandCalls(CreateMultipartUploadCommand)[0]!.returnValue).UploadId;
    const aborts = mock.commandCalls(AbortMultipartUploadCommand);
    expect(aborts.map((call) => call.args[0].input)).toEqual([
      { Bucket: BUCKET, Key: key, UploadId: uploadId },
    ]);
    expect(mock.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
  });

  it("keeps the ChecksumMismatchError when the abort itself fails", async () => {
    const s3 = offlineS3Client();
    const { mock } = memoryS3(s3, { abortFails: true });
    const hub = fakeHub({ size: PART + 10 });
    const { granuleId, key } = uniqueGranule();

    const error = await rejection(
      transferGranule(
        { granuleId, bucket: BUCKET, key, expectedMd5: "a".repeat(32), hub, s3 },
        { partSizeBytes: PART },
      ),
    );

    expect(error.name).toBe("ChecksumMismatchError");
    expect(error.cause).toMatchObject({ name: "MethodNotAllowed" });
    expect(mock.commandCalls(AbortMultipartUploadCommand)).toHaveLength(1);
    expect(mock.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
  });

  it.each<BreakMode>(["error", "close", "short"])(
    "resumes after a body that breaks by %s and numbers the parts contiguously",
    async (breakMode) => {
      const s3 = offlineS3Client();
      const { mock, state } = memoryS3(s3);
      const size = 3 * PART + 99;
      const hub = fakeHub({ size, breakAfter: [2 * PART + MIB], breakMode });
      const { granuleId, key } = uniqueGranule();

      const result = await transferGranule(
        { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3 },
        { partSizeBytes: PART },
      );

      expect(result).toMatchObject({ resumes: 1, restarts: 0, md5: hub.md5 });
      expect(hub.opens.map((open) => open.requested)).toEqual([0, 2 * PART + MIB]);
      const completed = mock.commandCalls(CompleteMultipartUploadCommand)[0]!.args[0].input;
      expect(completed.MultipartUpload?.Parts?.map((part) => part.PartNumber)).toEqual([1, 2, 3, 4]);
      expect(md5Of(state.objects.get(key)!)).toBe(hub.md5);
    },
  );

  it("starts over on a new upload when the hub ignores Range", async () => {
    const s3 = offlineS3Client();
    const { mock, state } = memoryS3(s3);
    const size = 3 * PART + 5;
    const hub = fakeHub({ size, honourRange: false, breakAfter: [2 * PART + 100] });
    const { granuleId, key } = uniqueGranule();

    const result = await transferGranule(
      { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3 },
      { partSizeBytes: PART },
    );

    expect(result).toMatchObject({ restarts: 1, md5: hub.md5, bytes: size });
    const created = await Promise.all(
      mock.commandCalls(CreateMultipartUploadCommand).map((call) => call.returnValue),
    );
    expect(created).toHaveLength(2);
    const aborted = mock.commandCalls(AbortMultipartUploadCommand).map((call) => call.args[0].input.UploadId);
    expect(aborted).toEqual([created[0]!.UploadId]);
    const completed = mock.commandCalls(CompleteMultipartUploadCommand).map((call) => call.args[0].input);
    expect(completed.map((input) => input.UploadId)).toEqual([created[1]!.UploadId]);
    expect(completed[0]!.MultipartUpload?.Parts?.map((part) => part.PartNumber)).toEqual([1, 2, 3, 4]);
    expect(md5Of(state.objects.get(key)!)).toBe(hub.md5);
  });

  it("starts clean when the saved upload no longer exists", async () => {
    const s3 = offlineS3Client();
    const { state } = memoryS3(s3);
    const size = 2 * PART + 321;
    const hub = fakeHub({ size });
    const { granuleId, key } = uniqueGranule();
    const hasher = await createMD5();
    const firstPart = productSlice(hub.seed, 0, PART);
    hasher.update(firstPart);
    const resume: UploadProgress = {
      uploadId: "forgotten-upload",
      key,
      parts: [{ PartNumber: 1, ETag: `"${md5Of(firstPart)}"` }],
      bytes: PART,
      hashState: Buffer.from(hasher.save()).toString("base64"),
    };

    const result = await transferGranule(
      { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3, resume },
      { partSizeBytes: PART },
    );

    expect(hub.opens.map((open) => open.requested)).toEqual([PART, 0]);
    expect(result).toMatchObject({ restarts: 1, resumedFromBytes: 0, md5: hub.md5 });
    expect(md5Of(state.objects.get(key)!)).toBe(hub.md5);
  });

  it("keeps the upload and its checkpoint when the body breaks more than maxResumes times", async () => {
    const s3 = offlineS3Client();
    const { mock } = memoryS3(s3);
    const hub = fakeHub({ size: 3 * PART, breakAfter: [PART + MIB, MIB, MIB] });
    const { granuleId, key } = uniqueGranule();
    const checkpoints: UploadProgress[] = [];

    const error = await rejection(
      transferGranule(
        { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3 },
        {
          partSizeBytes: PART,
          maxResumes: 2,
          onProgress: async (progress) => void checkpoints.push(progress),
        },
      ),
    );

    expect(error).toBeInstanceOf(TransferInterruptedError);
    expect(error).toMatchObject({ name: "TransferInterruptedError", granuleId, bytesTransferred: PART });
    expect(checkpoints.at(-1)).toMatchObject({ bytes: PART, parts: [{ PartNumber: 1 }] });
    expect(hub.opens).toHaveLength(3);
    expect(mock.commandCalls(AbortMultipartUploadCommand)).toHaveLength(0);
    expect(mock.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
  });

  it("keeps the upload for the next attempt when its signal aborts", async () => {
    const s3 = offlineS3Client();
    const { mock } = memoryS3(s3);
    const hub = fakeHub({ size: 3 * PART + 1 });
    const { granuleId, key } = uniqueGranule();
    const controller = new AbortController();
    const checkpoints: UploadProgress[] = [];

    const error = await rejection(
      transferGranule(
        { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3 },
        {
          partSizeBytes: PART,
          signal: controller.signal,
          onProgress: async (progress) => {
            checkpoints.push(progress);
            controller.abort();
          },
        },
      ),
    );

    const checkpoint = checkpoints.at(-1)!;
    expect(checkpoint.bytes % PART).toBe(0);
    expect(error).toMatchObject({
      name: "TransferInterruptedError",
      granuleId,
      bytesTransferred: checkpoint.bytes,
    });
    expect(hub.servedBytes()).toBeLessThan(hub.size);
    expect(mock.commandCalls(AbortMultipartUploadCommand)).toHaveLength(0);
    expect(mock.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
  });

  it("stops without completing or aborting when a part checkpoint fails, passing its error through", async () => {
    const s3 = offlineS3Client();
    const { mock } = memoryS3(s3);
    const hub = fakeHub({ size: 3 * PART + 1 });
    const { granuleId, key } = uniqueGranule();
    const leaseLost = new LeaseLostError(granuleId, "worker-1");
    // The catalogue's size says several parts: the upload is created (and recorded) before the hub is asked.
    let calls = 0;

    const error = await rejection(
      transferGranule(
        { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3 },
        {
          partSizeBytes: PART,
          onProgress: async () => {
            // The first call records the new upload; the table knows it, so later failures keep it.
            calls += 1;
            if (calls > 1) throw leaseLost;
          },
        },
      ),
    );

    expect(error).toBe(leaseLost);
    expect(mock.commandCalls(AbortMultipartUploadCommand)).toHaveLength(0);
    expect(mock.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
  });

  it("records the new upload before its first part and aborts it when that record fails", async () => {
    const s3 = offlineS3Client();
    const { mock, state } = memoryS3(s3);
    const hub = fakeHub({ size: 2 * PART + 1 });
    const { granuleId, key } = uniqueGranule();
    const leaseLost = new LeaseLostError(granuleId, "worker-1");
    const seen: { progress: UploadProgress; partsSent: number }[] = [];

    const error = await rejection(
      transferGranule(
        { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3, expectedSizeBytes: hub.size },
        {
          partSizeBytes: PART,
          onProgress: async (progress) => {
            seen.push({ progress, partsSent: mock.commandCalls(UploadPartCommand).length });
            throw leaseLost;
          },
        },
      ),
    );

    expect(error).toBe(leaseLost);
    const [uploadId] = [...state.uploads.keys()];
    expect(seen).toEqual([
      {
        progress: expect.objectContaining({
          uploadId,
          key,
          parts: [],
          bytes: 0,
          createdAt: expect.any(Number),
        }),
        partsSent: 0,
      },
    ]);
    // Unknown to the table, the upload would leak: it is aborted, and no byte was sent into it.
    expect(mock.commandCalls(UploadPartCommand)).toHaveLength(0);
    expect(mock.commandCalls(AbortMultipartUploadCommand)).toHaveLength(1);
    expect(state.uploads.get(uploadId!)!.state).toBe("aborted");
    expect(hub.opens).toHaveLength(0);
  });

  it("records the upload as completing with the verified MD5 before CompleteMultipartUpload", async () => {
    const s3 = offlineS3Client();
    const { mock, state } = memoryS3(s3);
    const hub = fakeHub({ size: PART + 100 });
    const { granuleId, key } = uniqueGranule();
    const seen: { progress: UploadProgress; completes: number }[] = [];

    const result = await transferGranule(
      { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3 },
      {
        partSizeBytes: PART,
        onProgress: async (progress) => {
          seen.push({ progress, completes: mock.commandCalls(CompleteMultipartUploadCommand).length });
        },
      },
    );

    expect(result.publication).toBe("now");
    // A two-part product: the upload is recorded before its first part, then as completing before Complete.
    expect(seen.map(({ progress }) => [progress.bytes, progress.parts.length, progress.completing])).toEqual([
      [0, 0, undefined],
      [PART, 1, undefined],
      [hub.size, 2, { md5: hub.md5 }],
    ]);
    expect(seen.every(({ completes }) => completes === 0)).toBe(true);
    expect(state.objects.get(key)?.length).toBe(hub.size);
  });

  it("finishes a completing upload with Complete alone, without reading the hub", async () => {
    const s3 = offlineS3Client();
    const { mock, state } = memoryS3(s3);
    const hub = fakeHub({ size: PART + 10 });
    const { granuleId, key } = uniqueGranule();
    let completing: UploadProgress | undefined;
    // The first attempt dies right after it recorded "completing" (before its Complete is sent).
    const dying = new Error("killed");
    mock.on(CompleteMultipartUploadCommand).rejectsOnce(dying);
    await rejection(
      transferGranule(
        { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3 },
        {
          partSizeBytes: PART,
          onProgress: async (progress) => {
            if (progress.completing !== undefined) completing = progress;
          },
        },
      ),
    );
    expect(completing).toBeDefined();
    const memory = memoryS3(s3);
    memory.state.uploads.set(completing!.uploadId, state.uploads.get(completing!.uploadId)!);
    const opens = hub.opens.length;

    const result = await transferGranule(
      { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3, resume: completing },
      { partSizeBytes: PART },
    );

    expect(hub.opens).toHaveLength(opens);
    expect(result).toMatchObject({
      key,
      bytes: hub.size,
      md5: hub.md5,
      fetchedBytes: 0,
      publication: "now",
    });
    expect(memory.mock.commandCalls(CompleteMultipartUploadCommand)[0]!.args[0].input).toMatchObject({
      UploadId: completing!.uploadId,
      MultipartUpload: { Parts: completing!.parts },
    });
    expect(memory.mock.commandCalls(UploadPartCommand)).toHaveLength(0);
    expect(memory.state.objects.get(key)?.length).toBe(hub.size);
  });

  it("takes NoSuchUpload on a young completing upload as completed, and refuses to guess on an old one", async () => {
    const s3 = offlineS3Client();
    const { mock } = memoryS3(s3);
    const hub = fakeHub({ size: PART + 10 });
    const { granuleId, key } = uniqueGranule();
    const now = Date.parse("2026-03-17T12:00:00Z");
    const completing: UploadProgress = {
      uploadId: "done-already",
      key,
      parts: [
        { PartNumber: 1, ETag: '"a"' },
        { PartNumber: 2, ETag: '"b"' },
      ],
      bytes: hub.size,
      hashState: "",
      createdAt: now - 60_000,
      completing: { md5: hub.md5 },
    };

    // The memory S3 never saw this upload id: it answers NoSuchUpload, as S3 does for a completed one.
    const young = await transferGranule(
      { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3, resume: completing },
      { now: () => now },
    );
    expect(young).toMatchObject({ key, bytes: hub.size, publication: "earlier-complete", fetchedBytes: 0 });

    const old = await rejection(
      transferGranule(
        { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3, resume: completing },
        { now: () => now + 25 * 60 * 60 * 1000 },
      ),
    );
    expect(old).toMatchObject({
      name: "UploadOutcomeUnknownError",
      granuleId,
      key,
      uploadId: "done-already",
    });
    expect(hub.opens).toHaveLength(0);
    expect(mock.commandCalls(AbortMultipartUploadCommand)).toHaveLength(0);
    expect(mock.commandCalls(CreateMultipartUploadCommand)).toHaveLength(0);
  });

  it("never resumes an upload the sweeper marked abandoned: aborts it and starts a new one", async () => {
    const s3 = offlineS3Client();
    const { state } = memoryS3(s3);
    const hub = fakeHub({ size: PART + 10 });
    const { granuleId, key } = uniqueGranule();
    const hasher = await createMD5();
    hasher.init();
    const marked: UploadProgress = {
      uploadId: "swept-upload",
      key,
      parts: [],
      bytes: 0,
      hashState: Buffer.from(hasher.save()).toString("base64"),
      abandonedAt: Date.now(),
    };
    state.uploads.set(marked.uploadId, { key, metadata: {}, parts: new Map(), state: "open" });

    await transferGranule(
      { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3, resume: marked },
      { partSizeBytes: PART },
    );

    expect(state.uploads.get(marked.uploadId)!.state).toBe("aborted");
    expect([...state.uploads.values()].filter((upload) => upload.state === "completed")).toHaveLength(1);
    expect(state.objects.get(key)?.length).toBe(hub.size);
  });

  it("aborts a saved upload of another key before it creates the new one", async () => {
    const s3 = offlineS3Client();
    const { mock, state } = memoryS3(s3);
    const hub = fakeHub({ size: PART + 10 });
    const { granuleId, key } = uniqueGranule();
    const stale: UploadProgress = {
      uploadId: "old-prefix-upload",
      key: `old/${key}`,
      parts: [],
      bytes: 0,
      hashState: "",
    };
    state.uploads.set(stale.uploadId, { key: stale.key, metadata: {}, parts: new Map(), state: "open" });

    await transferGranule(
      { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3, resume: stale },
      { partSizeBytes: PART },
    );

    expect(state.uploads.get(stale.uploadId)!.state).toBe("aborted");
    const abortAt = mock.calls().findIndex((call) => call.args[0] instanceof AbortMultipartUploadCommand);
    const createAt = mock.calls().findIndex((call) => call.args[0] instanceof CreateMultipartUploadCommand);
    expect(abortAt).toBeGreaterThanOrEqual(0);
    expect(abortAt).toBeLessThan(createAt);
    expect(state.objects.get(key)?.length).toBe(hub.size);
  });

  it("aborts the upload when the hub says the granule is gone", async () => {
    const s3 = offlineS3Client();
    const { granuleId, key } = uniqueGranule();
    const { mock } = memoryS3(s3);
    const hub = fakeHub({
      size: 2 * PART,
      breakAfter: [PART + 10],
      openErrors: { 1: new GranuleGoneError(granuleId, 410) },
    });

    const error = await rejection(
      transferGranule(
        { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3 },
        { partSizeBytes: PART },
      ),
    );

    expect(error).toBeInstanceOf(GranuleGoneError);
    expect(mock.commandCalls(AbortMultipartUploadCommand)).toHaveLength(1);
    expect(mock.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
  });

  it("bounds buffered bytes by part size and queue size while S3 is slower than the hub", async () => {
    const s3 = offlineS3Client();
    const { state } = memoryS3(s3, { partDelayMs: 15 });
    const partSizeBytes = PART;
    const queueSize = 2;
    let peakHeld = 0;
    const hub = fakeHub({
      size: 64 * MIB,
      onServed: (served) => {
        peakHeld = Math.max(peakHeld, served - state.uploadedBytes());
      },
    });
    const { granuleId, key } = uniqueGranule();

    const result = await transferGranule(
      { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3 },
      { partSizeBytes, queueSize },
    );

    expect(result.md5).toBe(hub.md5);
    expect(peakHeld).toBeGreaterThan(partSizeBytes);
    expect(peakHeld).toBeLessThanOrEqual(partSizeBytes * (queueSize + 2));
  });

  it.each<[string, TransferOptions]>([
    ["partSizeBytes", { partSizeBytes: PART - 1 }],
    ["partSizeBytes", { partSizeBytes: PART + 0.5 }],
    ["queueSize", { queueSize: 0 }],
    ["queueSize", { queueSize: 17 }],
    ["maxResumes", { maxResumes: -1 }],
  ])("rejects a bad %s before touching the hub or S3", async (field, options) => {
    const s3 = offlineS3Client();
    const { mock } = memoryS3(s3);
    const hub = fakeHub({ size: 10 });
    const { granuleId, key } = uniqueGranule();

    const error = await rejection(
      transferGranule(
        { granuleId, bucket: BUCKET, key, expectedMd5: productMd5(hub.seed, 10), hub, s3 },
        options,
      ),
    );

    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toMatchObject({ field });
    expect(error.message).toContain(field);
    expect(hub.opens).toHaveLength(0);
    expect(mock.calls()).toHaveLength(0);
  });

  it("rejects an expected MD5 that is not 32 hex digits", async () => {
    const s3 = offlineS3Client();
    const { mock } = memoryS3(s3);
    const hub = fakeHub({ size: 10 });
    const { granuleId, key } = uniqueGranule();

    const error = await rejection(
      transferGranule({ granuleId, bucket: BUCKET, key, expectedMd5: "not-an-md5", hub, s3 }),
    );

    expect(error).toMatchObject({ name: "InvalidInputError", field: "expectedMd5" });
    expect(mock.calls()).toHaveLength(0);
  });

  it("reuses a part buffer once its upload succeeded instead of allocating one per part", async () => {
    const s3 = offlineS3Client();
    const { mock, state } = memoryS3(s3);
    const hub = fakeHub({ size: 6 * PART + 7 });
    const { granuleId, key } = uniqueGranule();
    const allocUnsafe = vi.spyOn(Buffer, "allocUnsafe");

    let partBuffers: number;
    try {
      await transferGranule(
        { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3 },
        { partSizeBytes: PART, queueSize: 1 },
      );
    } finally {
      // Counted before the restore, which forgets the calls.
      partBuffers = allocUnsafe.mock.calls.filter(([size]) => size === PART).length;
      allocUnsafe.mockRestore();
    }

    expect(mock.commandCalls(UploadPartCommand)).toHaveLength(7);
    expect(partBuffers).toBeLessThanOrEqual(3);
    expect(md5Of(state.objects.get(key)!)).toBe(hub.md5);
  });

  it("uploads every part with its Content-MD5", async () => {
    const s3 = offlineS3Client();
    const { mock } = memoryS3(s3);
    const hub = fakeHub({ size: PART + 3 });
    const { granuleId, key } = uniqueGranule();

    await transferGranule(
      { granuleId, bucket: BUCKET, key, expectedMd5: hub.md5, hub, s3 },
      { partSizeBytes: PART },
    );

    const parts = mock.commandCalls(UploadPartCommand).map((call) => call.args[0].input);
    expect(parts.map((part) => part.ContentMD5)).toEqual(
      parts.map((part) =>
        createHash("md5")
          .update(part.Body as Uint8Array)
          .digest("base64"),
      ),
    );
    expect(parts.map((part) => part.ContentLength)).toEqual([PART, 3]);
  });
});
