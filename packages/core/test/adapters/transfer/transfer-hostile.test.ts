import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
} from "@aws-sdk/client-s3";
import { rejection } from "@hls-s2/testing/rejection";
import { describe, expect, it } from "vitest";
import type { DownloadStream, Hub } from "../../../src/adapters/hub/hub";
import { transferGranule } from "../../../src/adapters/transfer/transfer";
import { HubFramingError, TransferInterruptedError, TransferTooSlowError } from "../../../src/domain/errors";
import { memoryS3, offlineS3Client, productMd5, productSlice, uniqueGranule } from "../../helpers/s3";

const MIB = 1024 * 1024;
const PART = 5 * MIB;
const BUCKET = "uploads";
const SEED = 7;

/** How one open of the lying hub answers: where the body starts, its bytes, the headers it claims. */
interface Answer {
  /** Where the body starts (a Content-Range start); default the requested offset. */
  start?: number;
  /** Bytes of the product served from `start`; default to the end. */
  length?: number;
  /** Bytes appended after the product's (trailing garbage). */
  garbage?: number;
  /** Content-Length claimed; default the bytes actually sent; null for none (chunked). */
  contentLength?: number | null;
  /** Break the body (reset) after the bytes instead of ending it. */
  breakAtEnd?: boolean;
  /** Pace: milliseconds between 1 KiB chunks (a trickle). */
  trickleMs?: number;
}

/** A hub whose every open is scripted by `answer(requestedOffset, openIndex)`; records what was asked. */
function lyingHub(size: number, answer: (offset: number, index: number) => Answer) {
  const opens: number[] = [];
  let served = 0;
  const hub: Pick<Hub, "openDownload"> = {
    async openDownload(_id, options = {}): Promise<DownloadStream> {
      const offset = options.offset ?? 0;
      const plan = answer(offset, opens.length);
      opens.push(offset);
      const start = plan.start ?? offset;
      const length = plan.length ?? size - start;
      const bytes = Buffer.concat([productSlice(SEED, start, length), Buffer.alloc(plan.garbage ?? 0, 0x5a)]);
      const chunk = plan.trickleMs === undefined ? 64 * 1024 : 1024;
      let position = 0;
      const body = new Readable({
        read() {
          if (position >= bytes.length) {
            if (plan.breakAtEnd)
              this.destroy(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }));
            else this.push(null);
            return;
          }
          const piece = bytes.subarray(position, position + chunk);
          position += piece.length;
          served += piece.length;
          if (plan.trickleMs === undefined) this.push(piece);
          else setTimeout(() => this.push(piece), plan.trickleMs);
        },
      });
      const contentLength = plan.contentLength === null ? undefined : (plan.contentLength ?? bytes.length);
      return { body, offset: start, ...(contentLength !== undefined && { contentLength }) };
    },
  };
  return { hub, opens, servedBytes: () => served };
}

/** Every upload created was aborted and none completed: nothing left behind, nothing visible. */
async function expectNoUploadLeft(mock: ReturnType<typeof memoryS3>["mock"]) {
  const created = await Promise.all(
    mock.commandCalls(CreateMultipartUploadCommand).map((c) => c.returnValue),
  );
  const aborted = mock.commandCalls(AbortMultipartUploadCommand).map((c) => c.args[0].input.UploadId);
  expect(aborted.sort()).toEqual(created.map((c) => c.UploadId).sort());
  expect(mock.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
  return created.length;
}

describe("transferGranule against a hub that lies about framing", () => {
  const size = 2 * PART + 4321;
  const md5 = productMd5(SEED, size);

  it.each<[string, Answer]>([
    [
      "a Content-Length longer than the body and the product",
      { contentLength: size + 1000, breakAtEnd: true },
    ],
    ["a Content-Length shorter than the product", { contentLength: size - 1000 }],
    ["trailing garbage after the product (no Content-Length)", { contentLength: null, garbage: 4096 }],
    ["trailing garbage counted in the Content-Length", { garbage: 4096 }],
  ])(
    "retries %s once from a clean upload, then fails with HubFramingError leaving no upload",
    async (_what, lie) => {
      const s3 = offlineS3Client();
      const { mock } = memoryS3(s3);
      const { hub, opens, servedBytes } = lyingHub(size, () => lie);
      const { granuleId, key } = uniqueGranule();

      const error = await rejection(
        transferGranule(
          { granuleId, bucket: BUCKET, key, expectedMd5: md5, hub, s3, expectedSizeBytes: size },
          { partSizeBytes: PART },
        ),
      );

      expect(error).toBeInstanceOf(HubFramingError);
      expect(error).toMatchObject({ name: "HubFramingError", retryable: false, granuleId });
      // Detected once, retried once from byte 0: two fetches, never forty-two.
      expect(opens).toEqual([0, 0]);
      expect(servedBytes()).toBeLessThanOrEqual(2 * (size + 4096));
      expect(await expectNoUploadLeft(mock)).toBe(2);
    },
  );

  it("never asks for a Range at or past the product's end when a body breaks after its last byte", async () => {
    const s3 = offlineS3Client();
    const { mock } = memoryS3(s3);
    // No Content-Length to contradict: every byte arrives, then the connection resets.
    const { hub, opens } = lyingHub(size, () => ({ contentLength: null, breakAtEnd: true }));
    const { granuleId, key } = uniqueGranule();

    const error = await rejection(
      transferGranule(
        { granuleId, bucket: BUCKET, key, expectedMd5: md5, hub, s3, expectedSizeBytes: size },
        { partSizeBytes: PART },
      ),
    );

    expect(error).toBeInstanceOf(HubFramingError);
    expect(opens.every((offset) => offset < size)).toBe(true);
    expect(opens).toEqual([0, 0]);
    await expectNoUploadLeft(mock);
  });

  it("completes after one framing lie when the clean retry is honest", async () => {
    const s3 = offlineS3Client();
    const { mock, state } = memoryS3(s3);
    const { hub, opens } = lyingHub(size, (_offset, index) => (index === 0 ? { garbage: 10 } : {}));
    const { granuleId, key } = uniqueGranule();

    const result = await transferGranule(
      { granuleId, bucket: BUCKET, key, expectedMd5: md5, hub, s3, expectedSizeBytes: size },
      { partSizeBytes: PART },
    );

    expect(result).toMatchObject({ md5, bytes: size, restarts: 1 });
    expect(opens).toEqual([0, 0]);
    expect(state.objects.get(key)?.length).toBe(size);
    expect(mock.commandCalls(AbortMultipartUploadCommand)).toHaveLength(1);
  });

  it("accepts a DHuS-style size within its tolerance", async () => {
    const s3 = offlineS3Client();
    memoryS3(s3);
    const { hub } = lyingHub(size, () => ({}));
    const { granuleId, key } = uniqueGranule();

    const result = await transferGranule(
      {
        granuleId,
        bucket: BUCKET,
        key,
        expectedMd5: md5,
        hub,
        s3,
        expectedSizeBytes: size + 3000,
        sizeToleranceBytes: 10_486,
      },
      { partSizeBytes: PART },
    );

    expect(result).toMatchObject({ md5, bytes: size, restarts: 0 });
  });
});

describe("transferGranule against a Content-Range that starts elsewhere than asked", () => {
  const size = 3 * PART + 99;
  const md5 = productMd5(SEED, size);

  it("restarts the attempt cleanly (new upload, old one aborted) instead of failing terminally", async () => {
    const s3 = offlineS3Client();
    const { mock, state } = memoryS3(s3);
    const breakAt = 2 * PART + MIB;
    const { hub, opens } = lyingHub(size, (offset, index) => {
      if (index === 0) return { length: breakAt, contentLength: size, breakAtEnd: true };
      // The resume is answered from 1,000 bytes before the asked offset.
      if (offset > 0) return { start: offset - 1000 };
      return {};
    });
    const { granuleId, key } = uniqueGranule();

    const result = await transferGranule(
      { granuleId, bucket: BUCKET, key, expectedMd5: md5, hub, s3, expectedSizeBytes: size },
      { partSizeBytes: PART },
    );

    expect(result).toMatchObject({ md5, bytes: size, restarts: 1 });
    expect(opens).toEqual([0, breakAt, 0]);
    const created = await Promise.all(
      mock.commandCalls(CreateMultipartUploadCommand).map((c) => c.returnValue),
    );
    expect(created).toHaveLength(2);
    expect(mock.commandCalls(AbortMultipartUploadCommand).map((c) => c.args[0].input.UploadId)).toEqual([
      created[0]!.UploadId,
    ]);
    expect(state.objects.get(key)?.length).toBe(size);
  });

  it("stays retryable when every answer starts elsewhere", async () => {
    const s3 = offlineS3Client();
    memoryS3(s3);
    const { hub } = lyingHub(size, (offset) => ({ start: offset + 1, contentLength: null }));
    const { granuleId, key } = uniqueGranule();

    const error = await rejection(
      transferGranule(
        { granuleId, bucket: BUCKET, key, expectedMd5: md5, hub, s3, expectedSizeBytes: size },
        { partSizeBytes: PART, maxResumes: 2 },
      ),
    );

    expect(error).toBeInstanceOf(TransferInterruptedError);
  });
});

describe("transferGranule's throughput floor", () => {
  const size = PART + 777;
  const md5 = productMd5(SEED, size);

  it("cuts a trickling body and resumes it by Range", async () => {
    const s3 = offlineS3Client();
    const { state } = memoryS3(s3);
    // First body: 1 KiB every 20 ms (~50 KiB/s) under a 200 KiB/s floor; the resume is served at full speed.
    const { hub, opens } = lyingHub(size, (_offset, index) => (index === 0 ? { trickleMs: 20 } : {}));
    const { granuleId, key } = uniqueGranule();

    const started = performance.now();
    const result = await transferGranule(
      { granuleId, bucket: BUCKET, key, expectedMd5: md5, hub, s3, expectedSizeBytes: size },
      { partSizeBytes: PART, minBytesPerSecond: 200 * 1024, floorWindowMs: 300 },
    );

    expect(result).toMatchObject({ md5, bytes: size, resumes: 1, restarts: 0 });
    expect(opens).toHaveLength(2);
    expect(opens[1]).toBeGreaterThan(0);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(state.objects.get(key)?.length).toBe(size);
  });

  it("raises the retryable TransferTooSlowError, keeping the upload, when every body trickles", async () => {
    const s3 = offlineS3Client();
    const { mock } = memoryS3(s3);
    const { hub, opens } = lyingHub(size, () => ({ trickleMs: 20 }));
    const { granuleId, key } = uniqueGranule();

    const error = await rejection(
      transferGranule(
        { granuleId, bucket: BUCKET, key, expectedMd5: md5, hub, s3, expectedSizeBytes: size },
        { partSizeBytes: PART, minBytesPerSecond: 200 * 1024, floorWindowMs: 200, maxResumes: 1 },
      ),
    );

    expect(error).toBeInstanceOf(TransferTooSlowError);
    expect(error).toBeInstanceOf(TransferInterruptedError);
    expect(error).toMatchObject({ name: "TransferTooSlowError", retryable: true, granuleId });
    expect((error as TransferTooSlowError).bytesPerSecond).toBeLessThan(200 * 1024);
    expect(opens).toHaveLength(2);
    expect(mock.commandCalls(AbortMultipartUploadCommand)).toHaveLength(0);
  });

  it("does not blame the hub for time spent waiting on S3", async () => {
    const s3 = offlineS3Client();
    memoryS3(s3, { partDelayMs: 400 });
    const total = 4 * PART + 1;
    const { hub, opens } = lyingHub(total, () => ({}));
    const { granuleId, key } = uniqueGranule();

    const result = await transferGranule(
      {
        granuleId,
        bucket: BUCKET,
        key,
        expectedMd5: productMd5(SEED, total),
        hub,
        s3,
        expectedSizeBytes: total,
      },
      { partSizeBytes: PART, queueSize: 1, minBytesPerSecond: 50 * MIB, floorWindowMs: 100 },
    );

    expect(result).toMatchObject({ resumes: 0, restarts: 0, bytes: total });
    expect(opens).toHaveLength(1);
  });
});
