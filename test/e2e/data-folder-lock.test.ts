import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFile, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { objectKeyFor } from "@hls-s2/core/domain";
import { createDocumentClient, GranuleStore } from "@hls-s2/core/store";
import {
  LOCK_FILE_NAME,
  loadSynthesizedWorkflow,
  SYNTH_CACHE_FILE,
  startEmbeddedStores,
} from "@hls-s2/local";
import { EXIT } from "@hls-s2/local/cli";
import { createCatalogue, type MockHub, startMockHub } from "@hls-s2/mock-hub";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

const DAY = "2026-03-21";
const HUB_CREDENTIALS = { username: "lock-test", password: "lock-test-password" };
const CLI = join(import.meta.dirname, "../../packages/local/src/run/cli.ts");
const cleanups: (() => Promise<void>)[] = [];
let synthDir: string;

// The spawned runs read the synthesized state machine from their data folder's cache: build it once.
beforeAll(async () => {
  synthDir = await mkdtemp(join(tmpdir(), "hls-s2-lock-synth-"));
  await loadSynthesizedWorkflow({ cacheFile: join(synthDir, SYNTH_CACHE_FILE) });
});
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});
afterAll(() => rm(synthDir, { recursive: true, force: true }));

interface CliRun {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** `npm run local` as a user types it: a child process running the CLI. */
function runCli(args: string[]): CliRun {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      HUB_USERNAME: HUB_CREDENTIALS.username,
      HUB_PASSWORD: HUB_CREDENTIALS.password,
    },
  });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}

/**
 * The mock hub behind a proxy that holds every `$value` download until `open()`: the first run sits
 * mid-day, holding its data folder, for exactly as long as the test needs. `downloading` resolves
 * once every product's download is held, so the first run writes nothing until the gate opens.
 */
async function gatedHub(): Promise<{ url: string; hub: MockHub; downloading: Promise<void>; open(): void }> {
  const hub = await startMockHub({
    catalogue: createCatalogue({ seed: "lock", days: [DAY], granulesPerDay: 3, sizeBytes: 48 * 1024 }),
    credentials: HUB_CREDENTIALS,
  });
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  let allHeld!: () => void;
  const downloading = new Promise<void>((resolve) => {
    allHeld = resolve;
  });
  let held = 0;
  const proxy: Server = createServer((req, res) => {
    const forward = () => {
      const upstream = request(
        new URL(req.url ?? "/", hub.url),
        { method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", () => res.destroy());
      req.pipe(upstream);
    };
    if (/(\$|%24)value/.test(req.url ?? "")) {
      held += 1;
      if (held === hub.catalogue.products.length) allHeld();
      void opened.then(forward);
    } else {
      forward();
    }
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  cleanups.push(async () => {
    open();
    proxy.closeAllConnections();
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
    await hub.close();
  });
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, hub, downloading, open };
}

async function dataFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "hls-s2-lock-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await copyFile(join(synthDir, SYNTH_CACHE_FILE), join(dir, SYNTH_CACHE_FILE));
  return dir;
}

/**
 * What "untouched" is checked against: every file's path under the folder (a wipe or a new file shows),
 * and the size and time of the top-level files (the catalogue file, the synthesis cache, the lock).
 */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const entries: Record<string, string> = {};
  for (const name of await readdir(dir, { recursive: true })) {
    const info = await stat(join(dir, name)).catch(() => undefined);
    if (info?.isFile()) entries[name] = name.includes("/") ? "file" : `${info.size}@${info.mtimeMs}`;
  }
  return entries;
}

describe("two local runs on one data folder", () => {
  it("refuses the second, with and without --clean, with exit 3 and the holder's PID, and the first completes untouched", async () => {
    const dir = await dataFolder();
    const gate = await gatedHub();
    const first = runCli([
      "--data-dir",
      dir,
      "--day",
      DAY,
      "--hub-url",
      gate.url,
      "--concurrency",
      "3",
      "--all-tiles",
      // Not a test of DynamoDB Local: dynalite starts without a JVM; the intruders never reach a stand-in.
      "--dynamo",
      "dynalite",
    ]);
    await Promise.race([
      gate.downloading,
      first.exited.then((code) => {
        throw new Error(`first run ended (exit ${code}) before downloading: ${first.stderr()}`);
      }),
    ]);
    // Writes the first run issued alongside its last download request land before the snapshot.
    await sleep(300);
    const lock = JSON.parse(await readFile(join(dir, LOCK_FILE_NAME), "utf8")) as { pid: number };
    expect(lock.pid).toBe(first.child.pid);
    const before = await snapshot(dir);

    // The built-in mock with another catalogue: unlocked, the plain run would rewrite the catalogue
    // file and crash on the table's LevelDB lock (exit 1), and --clean would wipe the first run's
    // table and buckets and then run to exit 0 (both measured before the lock existed).
    const intruder = [
      "--data-dir",
      dir,
      "--day",
      DAY,
      "--granules",
      "5",
      "--seed",
      "intruder",
      "--size",
      "1KiB",
    ];
    const second = runCli(intruder);
    const secondClean = runCli([...intruder, "--clean"]);

    for (const [what, run] of [
      ["plain", second],
      ["--clean", secondClean],
    ] as const) {
      expect(await run.exited, `${what}: ${run.stderr()}`).toBe(EXIT.runFailed);
      expect(run.stderr(), what).toContain(`data folder ${dir} in use by PID ${first.child.pid}`);
      expect(run.stderr(), what).not.toMatch(/Database is closed|at .*\.ts:\d+/);
    }
    expect(await snapshot(dir)).toEqual(before);

    gate.open();
    expect(await first.exited, first.stderr()).toBe(EXIT.ok);
    const stores = await startEmbeddedStores({ dataDir: dir });
    cleanups.push(() => stores.close());
    const store = new GranuleStore(createDocumentClient(stores.dynamo), {
      tableName: stores.tableName,
    });
    for (const product of gate.hub.catalogue.products) {
      expect(await store.getGranule(product.id)).toMatchObject({ status: "DOWNLOADED", attempts: 1 });
      const bytes = await stores.readObject(objectKeyFor(product.name));
      expect(bytes && createHash("md5").update(bytes).digest("hex")).toBe(
        gate.hub.catalogue.expectedMd5(product.id),
      );
    }
    await expect(stat(join(dir, LOCK_FILE_NAME))).rejects.toMatchObject({ code: "ENOENT" });
  }, 90_000);
});
