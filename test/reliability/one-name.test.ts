import { AbortMultipartUploadCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { objectKeyFor } from "@hls-s2/core/domain";
import { downloadGranule } from "@hls-s2/core/usecases";
import { completedUploads, type LocalRunSummary } from "@hls-s2/local";
import type { MockProduct } from "@hls-s2/mock-hub";
import { requeue, status } from "@hls-s2/ops";
import { incompleteUploads, useCleanups } from "@hls-s2/testing/data-folder";
import { discoveredGranuleOf } from "@hls-s2/testing/granules";
import { rejection } from "@hls-s2/testing/rejection";
import { describe, expect, it } from "vitest";
import { DAY, losingFirstComplete, PART_SIZE, world } from "./once-world";

const cleanups = useCleanups();
const DAY_MS = 24 * 60 * 60 * 1000;
/** S3's PUT-class requests (priced per 1,000: PUT, COPY, POST, LIST). */
const PUT_CLASS = new Set([
  "PutObject",
  "CopyObject",
  "CreateMultipartUpload",
  "UploadPart",
  "CompleteMultipartUpload",
  "ListObjects",
  "ListMultipartUploads",
  "ListParts",
]);

/** The catalogue's products in pairs of one name under two ids (the duplicate-name fault on every product). */
function pairsByName(products: readonly MockProduct[]): [MockProduct, MockProduct][] {
  const byName = new Map<string, MockProduct[]>();
  for (const product of products) byName.set(product.name, [...(byName.get(product.name) ?? []), product]);
  return [...byName.values()].map((pair) => {
    expect(pair).toHaveLength(2);
    return [pair[0]!, pair[1]!];
  });
}

describe("one product name, one object", () => {
  it("downloads one of two ids with one name once, one after the other and at once; the other is a DUPLICATE", async () => {
    const { catalogue, hub, opened, store, deps } = await world(cleanups, 2, { duplicateNames: 1 });
    const [sequential, concurrent] = pairsByName(catalogue.products);

    const [first, second] = sequential!;
    expect(await downloadGranule({ granuleId: first.id, owner: "daily" }, deps())).toMatchObject({
      outcome: "downloaded",
    });
    expect(await downloadGranule({ granuleId: second.id, owner: "push" }, deps())).toMatchObject({
      outcome: "duplicate",
      duplicateOf: first.id,
    });
    const raced = await Promise.all(
      concurrent!.map((product, i) => downloadGranule({ granuleId: product.id, owner: `exec-${i}` }, deps())),
    );
    expect(raced.map((result) => result.outcome).sort()).toEqual(["downloaded", "duplicate"]);
    const winner = raced.find((result) => result.outcome === "downloaded")!.granuleId;
    const loser = raced.find((result) => result.outcome === "duplicate")!.granuleId;

    const completions = await completedUploads(opened.stores.s3Directory, opened.stores.bucketName);
    for (const [a, b] of [sequential!, concurrent!]) {
      expect(completions.get(objectKeyFor(a.name))).toBe(1);
      // One `$value` download per name.
      expect(hub.stats.granule(a.id).valueGets + hub.stats.granule(b.id).valueGets).toBe(1);
    }
    expect(await store.getGranule(second.id)).toMatchObject({ status: "DUPLICATE", duplicateOf: first.id });
    expect(await store.getGranule(loser)).toMatchObject({ status: "DUPLICATE", duplicateOf: winner });
    // A rerun finds nothing to do: the duplicate is not pending.
    expect((await store.listPending(DAY)).map((g) => g.granuleId)).toEqual([]);
    const report = await status({ day: DAY }, { store });
    expect(report.totals).toMatchObject({ recorded: 4, downloaded: 2, duplicates: 2, pending: 0 });
    expect(report.totals.duplicateIds).toEqual(
      expect.arrayContaining([
        { granuleId: second.id, duplicateOf: first.id },
        { granuleId: loser, duplicateOf: winner },
      ]),
    );
  }, 120_000);

  it("hands the key to the second id when the first failed for good before writing anything", async () => {
    const { catalogue, opened, store, deps } = await world(cleanups, 1, { duplicateNames: 1 });
    const [[first, second]] = pairsByName(catalogue.products) as [[MockProduct, MockProduct]];
    const key = objectKeyFor(first.name);
    await store.claimObjectKey(key, first.id);
    await store.markFailed(first.id, { name: "GranuleGoneError", message: "410 from the hub" });

    expect(await downloadGranule({ granuleId: second.id, owner: "later" }, deps())).toMatchObject({
      outcome: "downloaded",
      key,
    });
    expect(await store.claimObjectKey(key, first.id)).toEqual({ holder: second.id });
    expect(await opened.stores.readObject(key)).toHaveLength(second.sizeBytes);
  }, 120_000);
});

describe("a key written before", () => {
  it("takes S3's 412 to a second Complete or PutObject as delivered by the earlier write: no failure, no second object", async () => {
    const { catalogue, opened, store, deps } = await world(cleanups, 6);
    const multipart = catalogue.products.find((product) => product.sizeBytes > PART_SIZE);
    const onePart = catalogue.products.find((product) => product.sizeBytes <= PART_SIZE);
    expect(multipart).toBeDefined();
    expect(onePart).toBeDefined();
    for (const product of [multipart!, onePart!]) {
      const key = objectKeyFor(product.name);
      await opened.stores.s3.send(
        new PutObjectCommand({ Bucket: opened.stores.bucketName, Key: key, Body: "the earlier write" }),
      );

      const result = await downloadGranule({ granuleId: product.id, owner: "late" }, deps());

      expect(result).toMatchObject({ outcome: "downloaded", key });
      expect(await store.getGranule(product.id)).toMatchObject({
        status: "DOWNLOADED",
        delivery: { by: "earlier-write", reason: expect.stringContaining("412") },
      });
      expect((await opened.stores.readObject(key))?.toString()).toBe("the earlier write");
      const completions = await completedUploads(opened.stores.s3Directory, opened.stores.bucketName);
      expect(completions.get(key)).toBe(1);
    }
    expect(await incompleteUploads(opened.stores)).toEqual([]);
  }, 120_000);
});

describe("a one-part product killed between its PutObject and the DOWNLOADED mark", () => {
  it("is fetched once more by the next attempt, whose PutObject S3 refuses (412): still one object", async () => {
    const { catalogue, hub, opened, store, clock, deps } = await world(cleanups, 6);
    const product = catalogue.products.find((p) => p.sizeBytes <= PART_SIZE)!;
    const key = objectKeyFor(product.name);
    let killed = false;
    const dying = new Proxy(store, {
      get(target, property, receiver) {
        if (property === "markDownloaded" && !killed) {
          return async () => {
            killed = true;
            throw new Error("process killed after PutObject");
          };
        }
        if (property === "markFailed" && killed) return async () => Promise.reject(new Error("dead"));
        const value = Reflect.get(target, property, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });

    await expect(
      downloadGranule({ granuleId: product.id, owner: "killed" }, deps({ store: dying })),
    ).rejects.toThrow(/killed/);
    clock.ms += 60 * 60 * 1000;
    expect(await downloadGranule({ granuleId: product.id, owner: "next-run" }, deps())).toMatchObject({
      outcome: "downloaded",
    });

    expect(await store.getGranule(product.id)).toMatchObject({
      status: "DOWNLOADED",
      delivery: { by: "earlier-write" },
    });
    expect((await completedUploads(opened.stores.s3Directory, opened.stores.bucketName)).get(key)).toBe(1);
    // The price of having no upload to finish: the product's bytes once more (at most one part).
    expect(hub.stats.granule(product.id).valueGets).toBe(2);
  }, 120_000);
});

describe("requests per product", () => {
  it("costs a one-part product one PUT-class request, and a larger one its parts plus two", async () => {
    const { catalogue, opened, deps } = await world(cleanups, 6);
    const multipart = catalogue.products.find((product) => product.sizeBytes > PART_SIZE)!;
    const onePart = catalogue.products.find((product) => product.sizeBytes <= PART_SIZE)!;

    for (const product of [onePart, multipart]) {
      await downloadGranule({ granuleId: product.id, owner: "count" }, deps());
    }

    const putClass = (key: string) =>
      opened.stores.s3Requests
        .filter((r) => r.key === key && PUT_CLASS.has(r.operation))
        .map((r) => r.operation);
    expect(putClass(objectKeyFor(onePart.name))).toEqual(["PutObject"]);
    const parts = Math.ceil(multipart.sizeBytes / PART_SIZE);
    expect(putClass(objectKeyFor(multipart.name))).toEqual([
      "CreateMultipartUpload",
      ...Array.from({ length: parts }, () => "UploadPart"),
      "CompleteMultipartUpload",
    ]);
  }, 120_000);
});

describe("an upload whose outcome is unknown", () => {
  it("is never downloaded again by a rerun, a backfill, a push or requeue --day, only once requeued by name", async () => {
    const { catalogue, hub, opened, store, clock, deps } = await world(cleanups, 3, {
      sizeBytes: { min: 6 * 1024 * 1024, max: 8 * 1024 * 1024 },
    });
    const product = catalogue.products[0]!;
    const key = objectKeyFor(product.name);
    // Verified and recorded completing, but the Complete never reached S3; a day later the lifecycle
    // rule aborted the upload: S3 answers NoSuchUpload, which no longer proves a completion.
    const lost = await rejection(
      downloadGranule(
        { granuleId: product.id, owner: "child" },
        deps({ s3: losingFirstComplete(opened.stores.s3) }),
      ),
    );
    expect(lost).toMatchObject({ name: "TransferInterruptedError" });
    const { upload } = (await store.getGranule(product.id))!;
    expect(upload?.completing).toBeDefined();
    await opened.stores.s3.send(
      new AbortMultipartUploadCommand({
        Bucket: opened.stores.bucketName,
        Key: key,
        UploadId: upload!.uploadId,
      }),
    );
    clock.ms += DAY_MS + 60_000;
    const unknown = await rejection(downloadGranule({ granuleId: product.id, owner: "child" }, deps()));
    expect(unknown).toMatchObject({ name: "UploadOutcomeUnknownError" });
    expect(await store.getGranule(product.id)).toMatchObject({
      status: "FAILED",
      lastError: { name: "UploadOutcomeUnknownError" },
    });

    // A rerun or a backfill of the day: not pending; a child of an older manifest: Complete only, no download.
    expect((await store.listPending(DAY)).map((g) => g.granuleId)).not.toContain(product.id);
    const stale = await rejection(downloadGranule({ granuleId: product.id, owner: "backfill" }, deps()));
    expect(stale).toMatchObject({ name: "UploadOutcomeUnknownError" });
    // A push of the same product records nothing new.
    expect(await store.recordDiscovered(discoveredGranuleOf(product), DAY)).toEqual({ recorded: false });
    // requeue --day holds it back and says how to confirm the object first.
    const launchRun = async () => {
      for (const granule of await store.listPending(DAY)) {
        await downloadGranule({ granuleId: granule.granuleId, owner: "requeue-run" }, deps());
      }
      return { mode: "local" as const, executionName: "requeue-run", summary: {} as LocalRunSummary };
    };
    const byDay = await requeue({ day: DAY }, { store, now: new Date(clock.ms), launch: launchRun });
    expect(byDay.requeued).not.toContain(product.id);
    expect(byDay.held).toEqual([
      expect.objectContaining({ granuleId: product.id, key, advice: expect.stringContaining("--granule") }),
    ]);
    expect(hub.stats.granule(product.id).valueGets).toBe(1);
    expect(
      (await completedUploads(opened.stores.s3Directory, opened.stores.bucketName)).get(key),
    ).toBeUndefined();

    // The operator found no object: requeued by name, it uploads afresh, once.
    const named = await requeue(
      { day: DAY, granules: [product.id] },
      { store, now: new Date(clock.ms), launch: launchRun },
    );
    expect(named.requeued).toEqual([product.id]);
    expect(await store.getGranule(product.id)).toMatchObject({ status: "DOWNLOADED" });
    expect(hub.stats.granule(product.id).valueGets).toBe(2);
    expect((await completedUploads(opened.stores.s3Directory, opened.stores.bucketName)).get(key)).toBe(1);
  }, 120_000);
});
