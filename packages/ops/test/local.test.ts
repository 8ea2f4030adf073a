import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { GranuleStore } from "@hls-s2/core/store";
import {
  LOCK_FILE_NAME,
  type LocalRunSummary,
  lockDataFolder,
  type RunLocalOptions,
  startEmbeddedStores,
} from "@hls-s2/local";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EXIT, main } from "../src/cli";
import { documentClient, seedGranule } from "./helpers/granules";
import { captureIo } from "./helpers/io";

let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "hls-s2-ops-"));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

/** Seeds a local-mode data folder the way `npm run local` leaves it, then releases it. */
async function seedDataDir(day: string) {
  const stores = await startEmbeddedStores({ dataDir, dynamo: "dynalite" });
  try {
    return {
      failed: await seedGranule(stores, day, "S2A", { status: "FAILED", error: "GranuleGoneError" }),
      downloaded: await seedGranule(stores, day, "S2B", { status: "DOWNLOADED", bytes: 2048 }),
    };
  } finally {
    await stores.close();
  }
}

describe("--local DIR", () => {
  it("shows the data folder's granules and says executions are n/a locally", async () => {
    await seedDataDir("2025-05-20");
    const { out, io } = captureIo();

    expect(await main(["status", "--local", dataDir, "--day", "2025-05-20"], io)).toBe(EXIT.ok);
    // day platform hub found filtered recorded downloaded failed pending stuck missing bytes failures
    expect(out.stdout).toMatch(/2025-05-20 +S2A +- +1 +0 +1 +0 +1 +0 +0 +0 +0 B +GranuleGoneError×1/);
    expect(out.stdout).toMatch(/2025-05-20 +S2B +- +1 +0 +1 +1 +0 +0 +0 +0 +2\.0 KiB/);
    expect(out.stdout).toContain("executions: n/a locally");
  });

  it("requeues, releases the folder and runs the local workflow for that day", async () => {
    const seeded = await seedDataDir("2025-05-21");
    const runs: RunLocalOptions[] = [];
    let statusSeenByRun: string | undefined;
    const run = async (options: RunLocalOptions) => {
      runs.push(options);
      // The runner takes the folder's lock and opens the same on-disk table: this fails unless the
      // CLI released both first.
      const lock = await lockDataFolder(options.dataDir);
      const stores = await startEmbeddedStores({ dataDir: options.dataDir });
      try {
        const store = new GranuleStore(documentClient(stores), { tableName: stores.tableName });
        statusSeenByRun = (await store.getGranule(seeded.failed.granuleId))?.status;
      } finally {
        await stores.close();
        await lock.release();
      }
      return {
        executionName: "local-test",
        from: options.from,
        to: options.to,
        run: {},
        totals: {},
      } as LocalRunSummary;
    };
    const { out, io } = captureIo({ local: { run, onProgress: () => {} } });

    expect(await main(["requeue", "--local", dataDir, "--day", "2025-05-21", "--json"], io)).toBe(EXIT.ok);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ dataDir, from: "2025-05-21", to: "2025-05-21", downloadOnly: true });
    expect(statusSeenByRun).toBe("DISCOVERED");
    expect(JSON.parse(out.stdout)).toMatchObject({
      requeued: [seeded.failed.granuleId],
      execution: { mode: "local", executionName: "local-test" },
    });
  });

  it("exits 3 while a local run holds the folder, naming its PID and opening nothing", async () => {
    await seedDataDir("2025-05-22");
    // A run in another terminal: a live process whose PID the folder's lock names.
    const other = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    try {
      const lock = `${JSON.stringify({ pid: other.pid, host: hostname(), since: "2025-05-22T12:00:00Z", token: "t" })}\n`;
      await writeFile(join(dataDir, LOCK_FILE_NAME), lock);
      const { out, io } = captureIo();

      expect(await main(["status", "--local", dataDir, "--day", "2025-05-22"], io)).toBe(EXIT.environment);
      expect(out.stderr).toContain(`data folder ${dataDir} in use by PID ${other.pid}`);
      expect(await readFile(join(dataDir, LOCK_FILE_NAME), "utf8")).toBe(lock);
    } finally {
      other.kill("SIGKILL");
    }
  });

  it("exits 3 when the folder holds no local-mode data, creating nothing", async () => {
    const missing = join(dataDir, "never-run");
    const { out, io } = captureIo();

    expect(await main(["requeue", "--local", missing, "--day", "2025-05-21", "--dry-run"], io)).toBe(
      EXIT.environment,
    );
    expect(out.stderr).toContain(`no local-mode data in ${missing}`);
  });
});
