import { Readable } from "node:stream";
import { type ArchiveVariant, createCatalogue } from "@hls-s2/mock-hub";
import { rejection } from "@hls-s2/testing/rejection";
import { blake3 } from "hash-wasm";
import { describe, expect, it } from "vitest";
import type { DownloadStream } from "../../../src/adapters/hub/hub";
import { transferGranule } from "../../../src/adapters/transfer/transfer";
import {
  ArchiveInvalidError,
  ChecksumMismatchError,
  TransferInterruptedError,
} from "../../../src/domain/errors";
import type { UploadProgress } from "../../../src/domain/granule";
import { memoryS3, offlineS3Client, uniqueGranule } from "../../helpers/s3";

const MIB = 1024 * 1024;
const PART = 5 * MIB;
const BUCKET = "uploads";
// Products of 3-4 parts, zipped in the SAFE layout by the mock hub (it shares no code with core).
const catalogue = createCatalogue({
  seed: "zip-transfer",
  days: ["2026-03-01"],
  granulesPerDay: 2,
  sizeBytes: { min: 3 * PART + 1000, max: 4 * PART - 1000 },
});

/** A hub serving `bytes` with Range; `stopAfter`: the transfer's signal aborts once that many bytes are served. */
function archiveHub(bytes: Buffer, stop?: { after: number; controller: AbortController }) {
  let served = 0;
  return {
    opens: [] as number[],
    async openDownload(_id: string, options: { offset?: number } = {}): Promise<DownloadStream> {
      const offset = options.offset ?? 0;
      this.opens.push(offset);
      const chunks = function* () {
        for (let at = offset; at < bytes.length; at += 64 * 1024) {
          const chunk = bytes.subarray(at, Math.min(bytes.length, at + 64 * 1024));
          served += chunk.length;
          if (stop !== undefined && served >= stop.after) stop.controller.abort(new Error("deadline"));
          yield chunk;
        }
      };
      return { body: Readable.from(chunks()), offset, contentLength: bytes.length - offset };
    },
  };
}

function product(index: number, variant?: ArchiveVariant) {
  const p = catalogue.products[index]!;
  return {
    p,
    bytes: catalogue.bytes(p.id, undefined, undefined, variant),
    md5: catalogue.expectedMd5(p.id, variant),
    archive: { safeFolder: `${p.name}.SAFE` },
  };
}

describe("transferGranule with the archive check", () => {
  it("completes a sound zip, and one written with data descriptors, checkpointing the zip check's state", async () => {
    for (const variant of [undefined, "descriptors"] as const) {
      const s3 = offlineS3Client();
      const { state } = memoryS3(s3);
      const { p, bytes, md5, archive } = product(0, variant);
      const { granuleId, key } = uniqueGranule();
      const checkpoints: UploadProgress[] = [];
      const input = { granuleId, bucket: BUCKET, key, expectedMd5: md5, hub: archiveHub(bytes), s3, archive };
      const onProgress = async (progress: UploadProgress) => {
        checkpoints.push(progress);
      };
      const result = await transferGranule(
        { ...input, expectedSizeBytes: p.sizeBytes, sizeToleranceBytes: 0 },
        { partSizeBytes: PART, onProgress },
      );
      expect(result.bytes).toBe(p.sizeBytes);
      expect(state.objects.get(key)?.equals(bytes)).toBe(true);
      const resumable = checkpoints.filter((c) => c.bytes > 0 && c.completing === undefined);
      expect(resumable.length).toBeGreaterThan(0);
      expect(resumable.every((c) => c.zipState !== undefined && c.zipState.length < 2048)).toBe(true);
    }
  });

  it.each([
    ["truncated", "truncated"],
    ["entryFlipped", "crc"],
    ["directoryLies", "directory"],
    ["twoFolders", "safe"],
  ] as const)(
    "aborts the upload of a %s archive whose MD5 matches, naming the check",
    async (variant, check) => {
      const s3 = offlineS3Client();
      const { state } = memoryS3(s3);
      const { bytes, md5, archive } = product(1, variant);
      const { granuleId, key } = uniqueGranule();

      const error = await rejection(
        transferGranule(
          { granuleId, bucket: BUCKET, key, expectedMd5: md5, hub: archiveHub(bytes), s3, archive },
          { partSizeBytes: PART },
        ),
      );

      expect(error).toBeInstanceOf(ArchiveInvalidError);
      expect(error).toMatchObject({ name: "ArchiveInvalidError", granuleId, check });
      expect(state.objects.size).toBe(0);
      expect([...state.uploads.values()].map((u) => u.state)).toEqual(["aborted"]);
    },
  );

  it("reports bytes changed in transit as the MD5 mismatch, not as a broken archive", async () => {
    const s3 = offlineS3Client();
    memoryS3(s3);
    const { bytes, archive } = product(1, "entryFlipped");
    const good = product(1);
    const { granuleId, key } = uniqueGranule();
    const error = await rejection(
      transferGranule(
        { granuleId, bucket: BUCKET, key, expectedMd5: good.md5, hub: archiveHub(bytes), s3, archive },
        { partSizeBytes: PART },
      ),
    );
    expect(error).toBeInstanceOf(ChecksumMismatchError);
  });

  it("resumes the check across a kill: the directory's lie after the resume point is still caught", async () => {
    for (const variant of [undefined, "directoryLies", "entryFlipped"] as const) {
      const s3 = offlineS3Client();
      const { state } = memoryS3(s3);
      const { bytes, md5, archive } = product(0, variant);
      const { granuleId, key } = uniqueGranule();
      let saved: UploadProgress | undefined;
      const onProgress = async (progress: UploadProgress) => {
        saved = progress;
      };
      // First attempt: stopped by its deadline after two parts' worth of bytes.
      const controller = new AbortController();
      const first = archiveHub(bytes, { after: 2 * PART + MIB, controller });
      const input = { granuleId, bucket: BUCKET, key, expectedMd5: md5, s3, archive };
      const stopped = await rejection(
        transferGranule(
          { ...input, hub: first },
          { partSizeBytes: PART, onProgress, signal: controller.signal },
        ),
      );
      expect(stopped).toBeInstanceOf(TransferInterruptedError);
      expect(saved?.bytes, variant).toBeGreaterThan(0);
      expect(saved?.zipState).toBeDefined();
      // Second attempt, another process: only the checkpoint's state carries the check over.
      const second = archiveHub(bytes);
      const resumedFrom = saved?.bytes;
      const outcome = await transferGranule(
        { ...input, hub: second, resume: saved },
        { partSizeBytes: PART, onProgress },
      ).catch((error: unknown) => error);
      expect(second.opens[0], variant).toBe(resumedFrom);
      if (variant === undefined) {
        expect(outcome).toMatchObject({ resumedFromBytes: resumedFrom });
        expect(state.objects.get(key)?.equals(bytes)).toBe(true);
      } else {
        expect(outcome, variant).toBeInstanceOf(ArchiveInvalidError);
        expect(state.objects.size).toBe(0);
      }
    }
  });

  it("starts over rather than resume a checkpoint that lacks the zip check's state", async () => {
    const s3 = offlineS3Client();
    memoryS3(s3);
    const { bytes, md5, archive } = product(0);
    const { granuleId, key } = uniqueGranule();
    let saved: UploadProgress | undefined;
    const controller = new AbortController();
    const input = { granuleId, bucket: BUCKET, key, expectedMd5: md5, s3, archive };
    await rejection(
      transferGranule(
        { ...input, hub: archiveHub(bytes, { after: 2 * PART + MIB, controller }) },
        {
          partSizeBytes: PART,
          signal: controller.signal,
          onProgress: async (progress) => {
            saved = progress;
          },
        },
      ),
    );
    const { zipState: _dropped, ...legacy } = saved!;
    const hub = archiveHub(bytes);
    const result = await transferGranule({ ...input, hub, resume: legacy }, { partSizeBytes: PART });
    expect(hub.opens).toEqual([0]);
    expect(result.resumedFromBytes).toBe(0);
  });

  it("verifies a product without an MD5 by the zip check and the exact length alone", async () => {
    const s3 = offlineS3Client();
    const { state } = memoryS3(s3);
    const { p, bytes, archive } = product(0);
    const broken = product(0, "truncated");
    const { granuleId, key } = uniqueGranule();
    const exact = { expectedSizeBytes: p.sizeBytes, sizeToleranceBytes: 0 };
    const base = { granuleId, bucket: BUCKET, key, expectedMd5: undefined, s3, archive, ...exact };
    await expect(
      transferGranule({ ...base, hub: archiveHub(bytes) }, { partSizeBytes: PART }),
    ).resolves.toMatchObject({ bytes: p.sizeBytes });
    expect(state.objects.size).toBe(1);
    const other = uniqueGranule();
    const error = await rejection(
      transferGranule({ ...base, ...other, hub: archiveHub(broken.bytes) }, { partSizeBytes: PART }),
    );
    expect(error).toMatchObject({ name: "ArchiveInvalidError", check: "truncated" });
    await expect(
      transferGranule({ ...base, archive: undefined, hub: archiveHub(bytes) }, { partSizeBytes: PART }),
    ).rejects.toMatchObject({ name: "InvalidInputError", field: "expectedMd5" });
  });

  it("resumes a BLAKE3 across a kill from its saved state, and refuses a wrong one", async () => {
    const s3 = offlineS3Client();
    const { state } = memoryS3(s3);
    const { bytes, archive } = product(0);
    const { granuleId, key } = uniqueGranule();
    const expectedBlake3 = await blake3(bytes);
    let saved: UploadProgress | undefined;
    const onProgress = async (progress: UploadProgress) => {
      saved = progress;
    };
    const controller = new AbortController();
    const input = { granuleId, bucket: BUCKET, key, expectedMd5: undefined, expectedBlake3, s3, archive };
    await rejection(
      transferGranule(
        { ...input, hub: archiveHub(bytes, { after: 2 * PART + MIB, controller }) },
        { partSizeBytes: PART, signal: controller.signal, onProgress },
      ),
    );
    expect(saved?.blake3State).toBeDefined();
    const hub = archiveHub(bytes);
    const result = await transferGranule(
      { ...input, hub, resume: saved },
      { partSizeBytes: PART, onProgress },
    );
    expect(hub.opens[0]).toBeGreaterThan(0);
    expect(result.resumedFromBytes).toBe(hub.opens[0]);
    expect(state.objects.get(key)?.equals(bytes)).toBe(true);

    const other = uniqueGranule();
    const wrong = await rejection(
      transferGranule(
        { ...input, ...other, expectedBlake3: "0".repeat(64), hub: archiveHub(bytes) },
        { partSizeBytes: PART },
      ),
    );
    expect(wrong).toMatchObject({ name: "ChecksumMismatchError", algorithm: "BLAKE3" });
  });
});
