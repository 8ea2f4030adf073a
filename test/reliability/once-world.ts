import { CompleteMultipartUploadCommand, type S3Client } from "@aws-sdk/client-s3";
import { DhusHub } from "@hls-s2/core/hub";
import { createDocumentClient, GranuleStore } from "@hls-s2/core/store";
import type { DownloadDeps } from "@hls-s2/core/usecases";
import { type CatalogueOptions, createCatalogue, startMockHub } from "@hls-s2/mock-hub";
import { type Cleanups, reopen, tempDataDir } from "@hls-s2/testing/data-folder";
import { discoveredGranuleOf } from "@hls-s2/testing/granules";
import { MIB } from "./helpers";

// The world of the exactly-once tests: one day of the mock hub recorded in an embedded table.

export const DAY = "2026-03-18";
const CREDENTIALS = { username: "once", password: "exactly-once-test" };
export const PART_SIZE = 5 * MIB;
export const LEASE_MS = 60_000;

/** Every granule of one day on the mock hub, recorded in an embedded table, with a clock for leases. */
export async function world(cleanups: Cleanups, granules: number, shape: Partial<CatalogueOptions> = {}) {
  const catalogue = createCatalogue({
    seed: "exactly-once",
    days: [DAY],
    platforms: ["S2A"],
    granulesPerDay: granules,
    // One-part and two-part products.
    sizeBytes: { min: 3 * MIB, max: 8 * MIB },
    ...shape,
  });
  const hub = await startMockHub({ catalogue, port: 0, host: "127.0.0.1", credentials: CREDENTIALS });
  cleanups.add(() => hub.close());
  const opened = await reopen(await tempDataDir(cleanups), cleanups, "dynalite");
  const clock = { ms: Date.now() };
  const store = new GranuleStore(createDocumentClient(opened.stores.dynamo), {
    tableName: opened.stores.tableName,
    leaseMs: LEASE_MS,
    now: () => new Date(clock.ms),
  });
  for (const product of catalogue.products) await store.recordDiscovered(discoveredGranuleOf(product), DAY);
  const client = new DhusHub({
    url: hub.url,
    credentials: CREDENTIALS,
    filterRules: { maxAcquisitionAgeDays: 30 },
    http: { retries: 0 },
  });
  const deps = (overrides: Partial<DownloadDeps> = {}): DownloadDeps => ({
    store,
    hub: client,
    s3: opened.stores.s3,
    bucket: opened.stores.bucketName,
    partSizeBytes: PART_SIZE,
    now: () => clock.ms,
    ...overrides,
  });
  return { catalogue, hub, opened, store, clock, deps };
}

/** An S3 client whose first CompleteMultipartUpload never reaches S3 (connection reset). */
export function losingFirstComplete(s3: S3Client): S3Client {
  let lost = false;
  return new Proxy(s3, {
    get(target, property, receiver) {
      if (property !== "send") return Reflect.get(target, property, receiver);
      return (command: unknown, options?: unknown) => {
        if ((command as object).constructor.name === CompleteMultipartUploadCommand.name && !lost) {
          lost = true;
          return Promise.reject(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }));
        }
        return (target.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, options);
      };
    },
  });
}
