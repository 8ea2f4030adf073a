import { type ChildProcess, spawn } from "node:child_process";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { objectKeyFor, type UploadProgress } from "@hls-s2/core";
import { buildCatalogue, LOCAL_BUCKET_NAME } from "@hls-s2/local";
import type { GranuleStats } from "@hls-s2/mock-hub";
import { afterEach, describe, expect, it } from "vitest";
import {
  cleanupList,
  granulesOf,
  incompleteUploads,
  MIB,
  objectMd5,
  reopen,
  shareSynthesis,
  tempDataDir,
  useSharedSynthesis,
} from "./helpers";

const DAY = "2026-03-17";
const SIZE = 40 * MIB;
const GRANULES = 4;
/** The local stack's part size (core's default PART_SIZE_MIB). */
const PART_SIZE = 16 * MIB;
const cleanups = cleanupList();
afterEach(() => cleanups.run());

interface ChildRun {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startLocal(dataDir: string, extra: string[] = []): ChildRun {
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
      "--granules",
      String(GRANULES),
      "--size",
      String(SIZE),
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

/** Upload ids of the multipart uploads s3rver holds open, with the part numbers it fully received. */
async function openUploads(dataDir: string): Promise<Map<string, number[]>> {
  const folder = join(dataDir, "s3", LOCAL_BUCKET_NAME, "._S3rver_uploads");
  const uploads = new Map<string, number[]>();
  for (const id of await readdir(folder).catch(() => [] as string[])) {
    const files = await readdir(join(folder, id)).catch(() => [] as string[]);
    const parts: number[] = [];
    for (const name of files.filter((file) => /^\d+$/.test(file))) {
      // s3rver writes a part file while it arrives: only a whole 16 MiB part counts.
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
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("a local run killed mid-transfer", () => {
  it("resumes on restart into the same uploads and ends with every granule downloaded once", async () => {
    const dataDir = await tempDataDir(cleanups);
    await useSharedSynthesis(dataDir);
    const catalogue = buildCatalogue({ seed: "crash", granulesPerDay: GRANULES, productSize: SIZE }, [DAY]);

    // 6 MiB/s per body: a 40 MiB product takes ~7 s; its first 16 MiB part lands after ~3 s, the second is read at ~5 s.
    const first = startLocal(dataDir, ["--trickle", String(6 * MIB)]);
    await until(async () => {
      const uploads = await openUploads(dataDir);
      return uploads.size === GRANULES && [...uploads.values()].every((parts) => parts.includes(1));
    }, 45_000);
    // Let the checkpoints of those parts reach the table, then pull the plug.
    await new Promise((resolve) => setTimeout(resolve, 700));
    first.child.kill("SIGKILL");
    expect(await first.exited).toMatchObject({ signal: "SIGKILL" });
    expect(first.lines.some((line) => line["event"] === "done")).toBe(false);

    const before = await reopen(dataDir, cleanups);
    const interrupted = new Map<string, UploadProgress>();
    for (const listed of await granulesOf(before.store, DAY)) {
      // The status index does not carry the upload: read the item itself.
      const granule = (await before.store.getGranule(listed.granuleId))!;
      expect(granule.status).toBe("DOWNLOADING");
      expect(granule.upload?.bytes).toBeGreaterThan(0);
      interrupted.set(granule.granuleId, granule.upload!);
    }
    expect(interrupted.size).toBe(GRANULES);
    await before.stores.close();
    const uploadsBefore = await openUploads(dataDir);

    const second = startLocal(dataDir);
    expect(await second.exited).toMatchObject({ code: 0 });
    await shareSynthesis(dataDir);

    const released = second.lines.find((line) => line["event"] === "released")!["released"] as {
      granuleId: string;
    }[];
    expect(released.map((lease) => lease.granuleId).sort()).toEqual([...interrupted.keys()].sort());
    const done = second.lines.find((line) => line["event"] === "done")!;
    const stats = (done["stats"] as { granules: Record<string, GranuleStats> }).granules;
    const after = await reopen(dataDir, cleanups);
    for (const product of catalogue.products) {
      const saved = interrupted.get(product.id)!;
      // Each upload open at the kill is the one the restart continued and completed.
      expect(uploadsBefore.has(saved.uploadId)).toBe(true);
      expect(stats[product.id]).toMatchObject({
        valueGets: 1,
        rangeGets: 1,
        bytesServed: SIZE - saved.bytes,
      });
      expect(stats[product.id]!.bytesServed).toBeLessThan(SIZE);
      expect(await after.store.getGranule(product.id)).toMatchObject({
        status: "DOWNLOADED",
        bytesWritten: SIZE,
      });
      expect(await objectMd5(after.stores, objectKeyFor(product.name))).toBe(
        catalogue.expectedMd5(product.id),
      );
    }
    expect(await after.stores.listKeys()).toHaveLength(GRANULES);
    expect(await incompleteUploads(after.stores)).toEqual([]);
    expect(done["summary"]).toMatchObject({ run: { downloaded: GRANULES, failed: 0 } });
  }, 90_000);
});
