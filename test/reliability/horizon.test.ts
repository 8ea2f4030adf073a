import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { DAY_MS, formatDay, objectKeyFor } from "@hls-s2/core/domain";
import { completedUploads, MOCK_CREDENTIALS } from "@hls-s2/local";
import { createCatalogue, type MockHub, startMockHub } from "@hls-s2/mock-hub";
import { granulesOf, objectMd5, reopen, tempDataDir, useCleanups } from "@hls-s2/testing/data-folder";
import { describe, expect, it } from "vitest";
import { MIB, shareSynthesis, useSharedSynthesis } from "./helpers";

// No granule's fate depends on the one execution that listed it: a run killed during day D leaves
// granules DOWNLOADING; a run for day D+1 only downloads them (WriteManifest's reconciliation horizon).

const cleanups = useCleanups();
/** Recent days, so they fall inside the default 7-day horizon of the real clock the handlers read. */
const DAY_D = formatDay(Date.now() - 2 * DAY_MS);
const DAY_NEXT = formatDay(Date.now() - DAY_MS);

interface ChildRun {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  lines: Record<string, unknown>[];
}

/** `npm run local` for one day in a child process (crash-child.ts), so the test can SIGKILL it. */
function startLocal(dataDir: string, hub: MockHub, day: string): ChildRun {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      join(import.meta.dirname, "crash-child.ts"),
      ...["--data-dir", dataDir, "--day", day, "--hub-url", hub.url],
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
  return { child, exited, lines };
}

describe("a local run killed during day D, then a run for day D+1 only", () => {
  it("downloads D's unfinished granules in the D+1 run, each once", async () => {
    const dataDir = await tempDataDir(cleanups);
    await useSharedSynthesis(dataDir);
    const catalogue = createCatalogue({
      seed: "horizon-22",
      days: [DAY_D, DAY_NEXT],
      platforms: ["S2A", "S2B", "S2C"],
      granulesPerDay: 4,
      sizeBytes: { min: 3 * MIB, max: 6 * MIB },
    });
    expect(catalogue.products.filter((product) => product.day === DAY_D)).toHaveLength(4);

    // Day D, its bodies trickling (a product takes 12 s or more), killed once downloads are under way.
    const slow = await startMockHub({
      catalogue,
      port: 0,
      host: "127.0.0.1",
      credentials: MOCK_CREDENTIALS,
      faults: {
        seed: "horizon",
        rates: { trickle: 1 },
        defaults: { trickleBytesPerSecond: 256 * 1024, times: Number.POSITIVE_INFINITY },
      },
    });
    cleanups.add(() => slow.close());
    const killed = startLocal(dataDir, slow, DAY_D);
    const deadline = Date.now() + 90_000;
    while (!killed.lines.some((line) => line["event"] === "progress" && Number(line["inFlight"]) >= 1)) {
      if (Date.now() > deadline) throw new Error("day D's downloads never started");
      await sleep(50);
    }
    killed.child.kill("SIGKILL");
    expect(await killed.exited).toMatchObject({ signal: "SIGKILL" });
    const afterKill = await reopen(dataDir, cleanups);
    const left = await granulesOf(afterKill.store, DAY_D);
    expect(left.filter((granule) => granule.status !== "DOWNLOADED").length).toBeGreaterThanOrEqual(1);
    await afterKill.stores.close();

    // Day D+1 only: its window does not include D.
    const hub = await startMockHub({ catalogue, port: 0, host: "127.0.0.1", credentials: MOCK_CREDENTIALS });
    cleanups.add(() => hub.close());
    const next = startLocal(dataDir, hub, DAY_NEXT);
    expect(await next.exited).toMatchObject({ code: 0 });
    await shareSynthesis(dataDir);
    const done = next.lines.find((line) => line["event"] === "done")!;
    // The run's window is D+1; its manifest also held what the killed run left of D.
    expect(done["summary"]).toMatchObject({ from: DAY_NEXT, to: DAY_NEXT });
    const { manifest } = (done["summary"] as { run: { manifest: number } }).run;
    expect(manifest).toBe(4 + left.filter((granule) => granule.status !== "DOWNLOADED").length);

    const after = await reopen(dataDir, cleanups);
    const completions = await completedUploads(after.stores.s3Directory, after.stores.bucketName);
    for (const product of catalogue.products) {
      expect(await after.store.getGranule(product.id)).toMatchObject({
        status: "DOWNLOADED",
        bytesWritten: product.sizeBytes,
      });
      const key = objectKeyFor(product.name);
      expect(await objectMd5(after.stores, key)).toBe(catalogue.expectedMd5(product.id));
      expect(completions.get(key)).toBe(1);
    }
    const open = await after.stores.s3.send(
      new ListMultipartUploadsCommand({ Bucket: after.stores.bucketName }),
    );
    expect(open.Uploads ?? []).toEqual([]);
  }, 240_000);
});
