import { type ChildProcess, spawn } from "node:child_process";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { type GranuleRecord, objectKeyFor } from "@hls-s2/core/domain";
import { completedUploads, LOCAL_BUCKET_NAME, LOCAL_PART_SIZE_MIB, MOCK_CREDENTIALS } from "@hls-s2/local";
import { createCatalogue, type MockHub, startMockHub } from "@hls-s2/mock-hub";
import { granulesOf, objectMd5, reopen, tempDataDir, useCleanups } from "@hls-s2/testing/data-folder";
import { describe, expect, it } from "vitest";
import { MIB, shareSynthesis, useSharedSynthesis } from "./helpers";

const DAY = "2026-03-17";
/** Seed and sizes chosen for a mix: 18.7, 27.4, 3.6 and 29.2 MiB — one one-part product, three multi-part. */
const CATALOGUE = { seed: "crash-77", granulesPerDay: 4, sizeBytes: { min: 3 * MIB, max: 30 * MIB } };
/** The local runs' part size: a SIGKILL loses at most the unfinished part of each product in flight. */
const PART_SIZE = LOCAL_PART_SIZE_MIB * MIB;
/**
 * Body rates while a run is to be killed, so kills land where they are aimed on a loaded machine: the
 * first run's 3.6 MiB product needs 7 s and a part 10 s; in the second a part takes 5 s.
 */
const FIRST_RUN_BYTES_PER_SECOND = 512 * 1024;
const SECOND_RUN_BYTES_PER_SECOND = MIB;
/** Time for the checkpoint that follows an S3 event (a single table write) to land before the kill. */
const SETTLE_MS = 800;
const cleanups = useCleanups();

interface ChildRun {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startLocal(dataDir: string, hub: MockHub, extra: string[] = []): ChildRun {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      join(import.meta.dirname, "crash-child.ts"),
      "--data-dir",
      dataDir,
      "--day",
      DAY,
      "--hub-url",
      hub.url,
      ...extra,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  cleanups.add(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const lines: Record<string, unknown>[] = [];
  let buffered = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    const parts = buffered.split("\n");
    buffered = parts.pop()!;
    for (const line of parts)
      if (line.startsWith("{")) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  child.stderr!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal }));
  });
  return { child, lines, exited };
}

/** A hub of its own per run (the counters live here, in the test, so they survive the kills). */
async function hubFor(
  catalogue: ReturnType<typeof createCatalogue>,
  trickleBytesPerSecond?: number,
): Promise<MockHub> {
  const hub = await startMockHub({
    catalogue,
    port: 0,
    host: "127.0.0.1",
    credentials: MOCK_CREDENTIALS,
    ...(trickleBytesPerSecond !== undefined && {
      faults: {
        seed: "crash",
        rates: { trickle: 1 },
        defaults: { trickleBytesPerSecond, times: Number.POSITIVE_INFINITY },
      },
    }),
  });
  cleanups.add(() => hub.close());
  return hub;
}

/** The multipart uploads s3rver holds open, with the part numbers it fully received. */
async function openUploads(dataDir: string): Promise<Map<string, number[]>> {
  const folder = join(dataDir, "s3", LOCAL_BUCKET_NAME, "._S3rver_uploads");
  const uploads = new Map<string, number[]>();
  for (const id of await readdir(folder).catch(() => [] as string[])) {
    const files = await readdir(join(folder, id)).catch(() => [] as string[]);
    const parts: number[] = [];
    for (const name of files.filter((file) => /^\d+$/.test(file))) {
      // s3rver writes a part file while it arrives: only a whole part counts.
      const size = await stat(join(folder, id, name)).then(
        (info) => info.size,
        () => 0,
      );
      if (size === PART_SIZE) parts.push(Number(name));
    }
    uploads.set(id, parts);
  }
  return uploads;
}

async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(50);
  }
}

async function kill(run: ChildRun): Promise<void> {
  run.child.kill("SIGKILL");
  expect(await run.exited).toMatchObject({ signal: "SIGKILL" });
  expect(run.lines.some((line) => line["event"] === "done")).toBe(false);
}

/** The granules of the day as the killed run left them (read from the item: it carries the upload). */
async function tableAfterKill(dataDir: string): Promise<GranuleRecord[]> {
  const opened = await reopen(dataDir, cleanups);
  const granules = await Promise.all(
    (await granulesOf(opened.store, DAY)).map(
      async (listed) => (await opened.store.getGranule(listed.granuleId))!,
    ),
  );
  await opened.stores.close();
  return granules;
}

describe("a local run killed again and again", () => {
  it("resumes every upload, leaves none behind and stores each granule once", async () => {
    const dataDir = await tempDataDir(cleanups);
    await useSharedSynthesis(dataDir);
    const catalogue = createCatalogue({
      seed: CATALOGUE.seed,
      days: [DAY],
      platforms: ["S2A", "S2B", "S2C"],
      granulesPerDay: CATALOGUE.granulesPerDay,
      sizeBytes: CATALOGUE.sizeBytes,
    });
    const sizes = catalogue.products.map((product) => product.sizeBytes);
    expect(sizes.filter((size) => size <= PART_SIZE).length).toBeGreaterThanOrEqual(1);
    expect(sizes.filter((size) => size > 3 * PART_SIZE).length).toBeGreaterThanOrEqual(2);
    const hubs: MockHub[] = [];

    // Kill 1: every product in flight, every upload created, no part complete yet. The one-part product
    // has none: it goes in one PutObject once its body is read.
    const multipart = sizes.filter((size) => size > PART_SIZE).length;
    hubs.push(await hubFor(catalogue, FIRST_RUN_BYTES_PER_SECOND));
    const first = startLocal(dataDir, hubs.at(-1)!);
    await until(async () => (await openUploads(dataDir)).size === multipart, 60_000);
    await sleep(SETTLE_MS);
    const atFirstKill = await openUploads(dataDir);
    await kill(first);
    expect([...atFirstKill.values()].every((parts) => parts.length === 0)).toBe(true);
    const afterFirst = await tableAfterKill(dataDir);
    // Every upload S3 holds is recorded on its granule before any part was sent: none is an orphan.
    const withUpload = afterFirst.filter((granule) => granule.upload !== undefined);
    expect(withUpload).toHaveLength(multipart);
    expect(withUpload.map((granule) => granule.upload?.uploadId).sort()).toEqual(
      [...atFirstKill.keys()].sort(),
    );
    expect(
      afterFirst.every((granule) => granule.status === "DOWNLOADING" && (granule.upload?.bytes ?? 0) === 0),
    ).toBe(true);

    // Kill 2: two at a time, killed once a part of a multi-part product landed and was checkpointed.
    hubs.push(await hubFor(catalogue, SECOND_RUN_BYTES_PER_SECOND));
    const second = startLocal(dataDir, hubs.at(-1)!, ["--concurrency", "2"]);
    await until(
      async () => [...(await openUploads(dataDir)).values()].some((parts) => parts.length > 0),
      60_000,
    );
    await sleep(SETTLE_MS);
    await kill(second);
    const afterSecond = await tableAfterKill(dataDir);
    const resumedParts = afterSecond.filter((granule) => (granule.upload?.parts.length ?? 0) > 0);
    expect(resumedParts.length).toBeGreaterThanOrEqual(1);
    // Still the uploads of the first run: each continued, none replaced.
    for (const granule of afterSecond.filter((g) => g.status !== "DOWNLOADED" && g.upload !== undefined)) {
      expect(atFirstKill.has(granule.upload!.uploadId)).toBe(true);
    }

    // Kill 3: one at a time, killed after S3 stored the first object and before it even answered.
    hubs.push(await hubFor(catalogue));
    const third = startLocal(dataDir, hubs.at(-1)!, ["--concurrency", "1", "--kill-after-complete", "1"]);
    expect(await third.exited).toMatchObject({ signal: "SIGKILL" });
    const afterThird = await tableAfterKill(dataDir);
    const completing = afterThird.filter((granule) => granule.upload?.completing !== undefined);
    expect(completing).toHaveLength(1);
    expect(completing[0]!.status).toBe("DOWNLOADING");

    // The last run finishes the day.
    hubs.push(await hubFor(catalogue));
    const last = startLocal(dataDir, hubs.at(-1)!);
    expect(await last.exited).toMatchObject({ code: 0 });
    await shareSynthesis(dataDir);
    const done = last.lines.find((line) => line["event"] === "done")!;
    expect(done["summary"]).toMatchObject({ totals: { downloaded: catalogue.products.length, failed: 0 } });

    const after = await reopen(dataDir, cleanups);
    const completions = await completedUploads(after.stores.s3Directory, after.stores.bucketName);
    let served = 0;
    for (const product of catalogue.products) {
      const key = objectKeyFor(product.name);
      expect(await after.store.getGranule(product.id)).toMatchObject({
        status: "DOWNLOADED",
        bytesWritten: product.sizeBytes,
      });
      expect(await objectMd5(after.stores, key)).toBe(catalogue.expectedMd5(product.id));
      expect(completions.get(key)).toBe(1);
      served += hubs.reduce((sum, hub) => sum + hub.stats.granule(product.id).bytesServed, 0);
    }
    expect(await after.stores.listKeys()).toHaveLength(catalogue.products.length);
    const open = await after.stores.s3.send(
      new ListMultipartUploadsCommand({ Bucket: after.stores.bucketName }),
    );
    expect(open.Uploads ?? []).toEqual([]);
    const total = sizes.reduce((sum, size) => sum + size, 0);
    // Three kills cost at most the unfinished parts in flight, not the products.
    expect(served / total).toBeLessThanOrEqual(1.15);
    console.info(
      JSON.stringify({
        crashTest: { servedMiB: served / MIB, productsMiB: total / MIB, ratio: served / total },
      }),
    );
  }, 120_000);
});
