import { Readable } from "node:stream";
import { S3Client } from "@aws-sdk/client-s3";
import { type ArchiveVariant, createCatalogue } from "@hls-s2/mock-hub";
import { useGranuleTable } from "@hls-s2/testing/dynamo";
import { aDiscoveredGranule, aUniqueDay } from "@hls-s2/testing/granules";
import { rejection } from "@hls-s2/testing/rejection";
import { blake3 } from "hash-wasm";
import { describe, expect, it } from "vitest";
import type { Hub } from "../../src/adapters/hub/hub";
import { ChecksumNotPublishedError } from "../../src/domain/errors";
import { objectKeyFor } from "../../src/domain/granule";
import { type DownloadDeps, downloadGranule } from "../../src/usecases/download";
import { memoryS3 } from "../helpers/s3";

const MIB = 1024 * 1024;
const dynamo = useGranuleTable("download-archive-test");
const { store } = dynamo;
const catalogue = createCatalogue({
  seed: "download-archive",
  days: ["2026-04-01"],
  granulesPerDay: 6,
  sizeBytes: { min: 6 * MIB, max: 8 * MIB },
});
const BLAKE3_OF_NOTHING = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";

/** A CDSE-like hub (exact sizes) serving a mock zip, that has published no MD5 for it (a BLAKE3 at most). */
function unchecksummedHub(bytes: Buffer, published?: string): Hub {
  return {
    kind: "cdse",
    sizeToleranceBytes: () => 0,
    async listSearchPage() {
      throw new Error("not used by downloads");
    },
    async getChecksum(granuleId) {
      throw new ChecksumNotPublishedError(granuleId, published === undefined ? {} : { blake3: published });
    },
    async openDownload(_id, options = {}) {
      const offset = options.offset ?? 0;
      return { body: Readable.from([bytes.subarray(offset)]), offset, contentLength: bytes.length - offset };
    },
  };
}

/** The granule of catalogue product `index`, recorded under its own name and size so its zip's folder is its own. */
async function recorded(index: number, variant?: ArchiveVariant) {
  const product = catalogue.products[index]!;
  const granule = aDiscoveredGranule({ name: `${product.name}.SAFE`, sizeBytes: product.sizeBytes });
  await store.recordDiscovered(granule, aUniqueDay());
  return { granule, bytes: catalogue.bytes(product.id, undefined, undefined, variant) };
}

function deps(hub: Hub, overrides: Partial<DownloadDeps>) {
  const s3 = new S3Client({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
  const memory = memoryS3(s3).state;
  return { deps: { store, hub, s3, bucket: "b", partSizeBytes: 5 * MIB, ...overrides }, memory };
}

describe("downloadGranule of a product without a hub MD5", () => {
  it("waits for the checksum by default, as before", async () => {
    const { granule, bytes } = await recorded(0);
    const { deps: d, memory } = deps(unchecksummedHub(bytes), { archiveCheck: true });
    const error = await rejection(downloadGranule({ granuleId: granule.granuleId, owner: "o" }, d));
    expect(error).toBeInstanceOf(ChecksumNotPublishedError);
    expect(memory.uploads.size).toBe(0);
  });

  it("verifies it by the zip check and the exact length when the setting allows", async () => {
    const { granule, bytes } = await recorded(1);
    const { deps: d, memory } = deps(unchecksummedHub(bytes), {
      archiveCheck: true,
      verifyWithoutChecksum: true,
    });
    const result = await downloadGranule({ granuleId: granule.granuleId, owner: "o" }, d);
    const key = objectKeyFor(granule.name);
    expect(result).toMatchObject({ outcome: "downloaded", key, bytes: bytes.length });
    expect(memory.objects.get(key)?.equals(bytes)).toBe(true);
    const record = await store.getGranule(granule.granuleId);
    expect(record).toMatchObject({ status: "DOWNLOADED" });
    expect(record?.checksum).toBeUndefined();
  });

  it("refuses a broken zip without an MD5, recording ArchiveInvalidError and forgetting the aborted upload", async () => {
    const { granule, bytes } = await recorded(2, "truncated");
    const { deps: d, memory } = deps(unchecksummedHub(bytes), {
      archiveCheck: true,
      verifyWithoutChecksum: true,
    });
    const error = await rejection(downloadGranule({ granuleId: granule.granuleId, owner: "o" }, d));
    expect(error).toMatchObject({ name: "ArchiveInvalidError", check: "truncated" });
    expect(memory.objects.size).toBe(0);
    expect([...memory.uploads.values()].map((upload) => upload.state)).toEqual(["aborted"]);
    const record = await store.getGranule(granule.granuleId);
    expect(record).toMatchObject({ status: "FAILED", lastError: { name: "ArchiveInvalidError" } });
    expect(record?.upload).toBeUndefined();
  });

  it("verifies it by the hub's BLAKE3 when that is the only checksum, the zip check on or off", async () => {
    for (const archiveCheck of [false, true]) {
      const { granule, bytes } = await recorded(archiveCheck ? 4 : 3);
      const published = await blake3(bytes);
      const { deps: d, memory } = deps(unchecksummedHub(bytes, published.toUpperCase()), { archiveCheck });
      const result = await downloadGranule({ granuleId: granule.granuleId, owner: "o" }, d);
      expect(result).toMatchObject({ outcome: "downloaded", bytes: bytes.length });
      expect(memory.objects.get(objectKeyFor(granule.name))?.equals(bytes)).toBe(true);
    }
  });

  it("refuses bytes whose BLAKE3 differs from the hub's, as a checksum mismatch", async () => {
    const { granule, bytes } = await recorded(5);
    const { deps: d, memory } = deps(unchecksummedHub(bytes, BLAKE3_OF_NOTHING), {});
    const error = await rejection(downloadGranule({ granuleId: granule.granuleId, owner: "o" }, d));
    expect(error).toMatchObject({
      name: "ChecksumMismatchError",
      algorithm: "BLAKE3",
      expectedMd5: BLAKE3_OF_NOTHING,
    });
    expect(memory.objects.size).toBe(0);
  });
});
