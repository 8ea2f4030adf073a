import { Transform } from "node:stream";
import { objectKeyFor } from "@hls-s2/core/domain";
import { DhusHub, type Hub } from "@hls-s2/core/hub";
import { downloadGranule } from "@hls-s2/core/usecases";
import { createCatalogue, type MockProduct, startMockHub } from "@hls-s2/mock-hub";
import {
  incompleteUploads,
  type OpenedData,
  objectMd5,
  reopen,
  tempDataDir,
  useCleanups,
} from "@hls-s2/testing/data-folder";
import { discoveredGranuleOf } from "@hls-s2/testing/granules";
import { describe, expect, it } from "vitest";
import { MIB } from "./helpers";

const DAY = "2026-03-16";
const CREDENTIALS = { username: "resume", password: "resume-test" };
/** S3's smallest part: what a resume across attempts can lose is the unfinished part. */
const PART_SIZE = 5 * MIB;
const cleanups = useCleanups();

async function oneProductWorld(seed: string, sizeBytes: number) {
  const catalogue = createCatalogue({ seed, days: [DAY], platforms: ["S2A"], granulesPerDay: 1, sizeBytes });
  const product = catalogue.products[0]!;
  const hub = await startMockHub({ catalogue, port: 0, host: "127.0.0.1", credentials: CREDENTIALS });
  cleanups.add(() => hub.close());
  const opened = await reopen(await tempDataDir(cleanups), cleanups, "dynalite");
  await opened.store.recordDiscovered(discoveredGranuleOf(product), DAY);
  const client = new DhusHub({
    url: hub.url,
    credentials: CREDENTIALS,
    filterRules: { maxAcquisitionAgeDays: 30 },
    http: { retries: 0 },
  });
  return { catalogue, product, hub, opened, client };
}

function attempt(
  world: { product: MockProduct; opened: OpenedData; client: Hub },
  owner: string,
  signal?: AbortSignal,
) {
  const { product, opened, client } = world;
  return downloadGranule(
    { granuleId: product.id, owner },
    {
      store: opened.store,
      hub: client,
      s3: opened.stores.s3,
      bucket: opened.stores.bucketName,
      partSizeBytes: PART_SIZE,
      signal,
    },
  );
}

/**
 * A hub client that stops the attempt (as a Lambda deadline would) once the downloader has
 * consumed `fraction` of the product's body. Counted where the transfer reads, not at the mock
 * hub: bytes still in socket buffers were never received, so they do not count as downloaded.
 */
function deadlineAtFraction(
  client: DhusHub,
  product: MockProduct,
  fraction: number,
): { hub: Hub; signal: AbortSignal } {
  const controller = new AbortController();
  const hub: Hub = {
    kind: client.kind,
    listSearchPage: (query, offset, options) => client.listSearchPage(query, offset, options),
    getChecksum: (id, options) => client.getChecksum(id, options),
    async openDownload(id, options) {
      const opened = await client.openDownload(id, options);
      let consumed = opened.offset;
      const counted = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          consumed += chunk.length;
          done(null, chunk);
          if (consumed >= product.sizeBytes * fraction) controller.abort(new Error("Lambda deadline"));
        },
      });
      opened.body.on("error", (error) => counted.destroy(error));
      return { ...opened, body: opened.body.pipe(counted) };
    },
  };
  return { hub, signal: controller.signal };
}

describe("resuming an interrupted product", () => {
  it("re-fetches at most 35% of a product whose body broke at 70%, within one attempt", async () => {
    const world = await oneProductWorld("resume-within", 40 * MIB);
    const { product, hub, opened, catalogue } = world;
    hub.setFaults({
      granules: { [product.id]: { kind: "resetAfterBytes", bytes: Math.floor(product.sizeBytes * 0.7) } },
    });

    const result = await attempt(world, "owner-within");

    const stats = hub.stats.granule(product.id);
    expect(result.outcome).toBe("downloaded");
    expect(stats).toMatchObject({ valueGets: 2, rangeGets: 1 });
    const fetchedAfterBreak = stats.bytesServed - Math.floor(product.sizeBytes * 0.7);
    expect(fetchedAfterBreak / product.sizeBytes).toBeLessThanOrEqual(0.35);
    // The Range resume continues the running MD5 and the same upload: nothing is fetched twice.
    expect(stats.bytesServed).toBe(product.sizeBytes);
    expect(await objectMd5(opened.stores, objectKeyFor(product.name))).toBe(
      catalogue.expectedMd5(product.id),
    );
    expect(await incompleteUploads(opened.stores)).toEqual([]);
  });

  it("re-fetches at most 35% of a product stopped at 70% by its deadline, on the next attempt into the same upload", async () => {
    const world = await oneProductWorld("resume-across", 128 * MIB);
    const { product, hub, opened, catalogue } = world;

    const deadline = deadlineAtFraction(world.client, product, 0.7);
    const first = attempt({ ...world, client: deadline.hub }, "child-execution-1", deadline.signal);

    await expect(first).rejects.toMatchObject({ name: "TransferInterruptedError" });
    const saved = (await opened.store.getGranule(product.id))!.upload!;
    expect(saved.bytes).toBeGreaterThan(product.sizeBytes * 0.6);
    const servedBefore = hub.stats.granule(product.id).bytesServed;
    expect(servedBefore / product.sizeBytes).toBeGreaterThanOrEqual(0.7);
    expect(servedBefore / product.sizeBytes).toBeLessThan(0.8);

    // The Step Functions Retry of the same child execution.
    const second = await attempt(world, "child-execution-1");

    const fetchedAgain = hub.stats.granule(product.id).bytesServed - servedBefore;
    expect(second).toMatchObject({ outcome: "downloaded", resumedFromBytes: saved.bytes });
    expect(fetchedAgain).toBe(product.sizeBytes - saved.bytes);
    expect(fetchedAgain / product.sizeBytes).toBeLessThanOrEqual(0.35);
    expect(hub.stats.granule(product.id)).toMatchObject({ valueGets: 2, rangeGets: 1 });
    expect(await objectMd5(opened.stores, objectKeyFor(product.name))).toBe(
      catalogue.expectedMd5(product.id),
    );
    // The saved upload was completed, not abandoned for a new one.
    expect(await incompleteUploads(opened.stores)).toEqual([]);
    expect((await opened.store.getGranule(product.id))?.status).toBe("DOWNLOADED");
  });
});
