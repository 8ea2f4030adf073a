import { objectKeyFor } from "@hls-s2/core/domain";
import { MISMATCH_MAX_ATTEMPTS } from "@hls-s2/core/errors";
import { buildCatalogue, runLocal } from "@hls-s2/local";
import type { FaultPlan, GranuleFaultKind, MockHub } from "@hls-s2/mock-hub";
import {
  granulesOf,
  incompleteUploads,
  objectMd5,
  reopen,
  SHORT_HORIZON_ENV,
  tempDataDir,
  useCleanups,
} from "@hls-s2/testing/data-folder";
import { describe, expect, it } from "vitest";
import { KIB, shareSynthesis, useSharedSynthesis } from "./helpers";

const cleanups = useCleanups();

/** Each broken-upstream kind and the archive check its product must fail. */
const BROKEN: [GranuleFaultKind, string][] = [
  ["zipTruncated", "truncated"],
  ["zipEntryFlipped", "crc"],
  ["zipDirectoryLies", "directory"],
  ["zipTwoFolders", "safe"],
];

describe("a hub serving broken zips whose MD5s match", () => {
  it("fails each broken product with its check and no object, and verifies every sound one once", async () => {
    const dataDir = await tempDataDir(cleanups);
    const day = "2026-05-02";
    const params = {
      seed: "broken-upstream",
      granulesPerDay: 8,
      productSize: { min: 200 * KIB, max: 400 * KIB },
    };
    const catalogue = buildCatalogue(params, [day]);
    const [described, ...rest] = catalogue.products.map((p) => p.id);
    const broken = BROKEN.map(([kind, check], index) => ({ id: rest[index]!, kind, check }));
    const faults: FaultPlan = {
      granules: {
        [described!]: { kind: "zipDescriptors" },
        ...Object.fromEntries(broken.map(({ id, kind }) => [id, { kind }])),
      },
    };
    let hub: MockHub | undefined;
    await useSharedSynthesis(dataDir);
    const summary = await runLocal({
      dataDir,
      dynamo: "dynalite",
      lambdaEnv: SHORT_HORIZON_ENV,
      from: day,
      to: day,
      ...params,
      // CDSE states each product's exact length; the test follows every product (no tile filter).
      mockKind: "cdse",
      allTiles: true,
      retryDelayMs: 5,
      faults,
      onMockHub: (mock) => {
        hub = mock;
      },
    });
    await shareSynthesis(dataDir);

    const opened = await reopen(dataDir, cleanups);
    const records = new Map(
      (await granulesOf(opened.store, day)).map((record) => [record.granuleId, record]),
    );
    for (const { id, kind, check } of broken) {
      const record = records.get(id);
      expect(record, kind).toMatchObject({ status: "FAILED", lastError: { name: "ArchiveInvalidError" } });
      expect(record?.lastError?.message, kind).toContain(`archive check ${check} failed`);
      // A broken archive stays broken: the first download and the mismatch retries, then terminal.
      expect(hub!.stats.granule(id).valueGets, kind).toBe(1 + MISMATCH_MAX_ATTEMPTS);
      expect(await objectMd5(opened.stores, objectKeyFor(catalogue.get(id)!.name)), kind).toBeUndefined();
    }
    const sound = catalogue.products.filter((p) => !broken.some((b) => b.id === p.id));
    for (const product of sound) {
      expect(records.get(product.id), product.id).toMatchObject({
        status: "DOWNLOADED",
        bytesWritten: product.sizeBytes,
      });
      const variant = product.id === described ? "descriptors" : undefined;
      expect(await objectMd5(opened.stores, objectKeyFor(product.name))).toBe(
        catalogue.expectedMd5(product.id, variant),
      );
      // Verified once: one download, never a second.
      expect(hub!.stats.granule(product.id).valueGets, product.id).toBe(1);
    }
    expect(await opened.stores.listKeys()).toHaveLength(sound.length);
    expect(await incompleteUploads(opened.stores)).toEqual([]);
    expect(summary.totals).toMatchObject({
      found: 8,
      downloaded: sound.length,
      failed: broken.length,
      pending: 0,
    });
    expect(summary.totals.failures).toMatchObject({ ArchiveInvalidError: broken.length });
  }, 180_000);
});
