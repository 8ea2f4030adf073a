/**
 * The three ways the transfer benchmark (transfer.ts) moves one product from the mock hub into the
 * embedded S3, and the child processes it runs them in (one role each, so a variant's peak RSS is its own):
 * - raw: node:http body → lib-storage `Upload` (same part size and queue as ours), no hashing, no checks;
 * - ours: `transferGranule` with `DhusHub` (streamed MD5, own multipart path, MD5 checked before Complete);
 * - buffered: the reference system's way: whole body in memory, MD5, one PutObject with Content-MD5.
 * Core is loaded only by the "ours" variant, so the others' peak RSS holds none of it.
 */
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { get } from "node:http";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  CompleteMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { MiB, peakRss, seconds, serveParent } from "./lib";

/** This file: transfer.ts starts it as a child with `--role hub|store|client`. */
export const ROLES_SCRIPT = fileURLToPath(import.meta.url);
const CREDENTIALS = { username: "bench", password: "bench" };
/** Ours' defaults (transfer.ts): raw uses the same, so the two differ only in what ours adds. */
export const PART_SIZE_BYTES = 16 * MiB;
const QUEUE_SIZE = 4;
export const VARIANTS = ["raw", "ours", "buffered"] as const;
export type Variant = (typeof VARIANTS)[number];

export interface HubInfo {
  url: string;
  id: string;
  name: string;
  md5: string;
  sizeBytes: number;
}

export interface StoreInfo {
  endpoint: string;
  bucket: string;
}

export interface RunRequest {
  variant: Variant;
  hub: HubInfo;
  store: StoreInfo;
  key: string;
}

export interface RunAnswer {
  seconds: number;
  bytes: number;
  /** Ours only: from the hub body's last byte to the object being visible, and the Complete call in it. */
  tailSeconds?: number;
  completeSeconds?: number;
}

/** The settings embedded.ts's s3ClientConfig gives s3rver clients (kept here so a client loads no server code). */
function s3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

async function hubRole(sizeBytes: number, bandwidth: number | undefined): Promise<void> {
  const { createCatalogue, startMockHub } = await import("@hls-s2/mock-hub");
  const catalogue = createCatalogue({
    seed: "bench-transfer",
    days: ["2026-11-24"],
    granulesPerDay: 1,
    sizeBytes,
  });
  const product = catalogue.products[0]!;
  // Hashed before any run: the hub answers checksums from this cache, never while a body streams.
  const md5 = await catalogue.expectedMd5Async(product.id);
  const hub = await startMockHub({ catalogue, credentials: CREDENTIALS, bandwidthBytesPerSecond: bandwidth });
  const info: HubInfo = {
    url: hub.url,
    id: product.id,
    name: product.name,
    md5,
    sizeBytes: product.sizeBytes,
  };
  serveParent(
    async () => info,
    () => hub.close(),
  );
}

async function storeRole(): Promise<void> {
  const { startEmbeddedStores } = await import("@hls-s2/local");
  // No dataDir: a temporary folder under the OS temp dir, removed on close.
  const stores = await startEmbeddedStores();
  serveParent(
    async (request) => {
      if (request["op"] === "info") return { endpoint: stores.s3Endpoint, bucket: stores.bucketName };
      const key = String(request["key"]);
      if (request["op"] === "check") {
        const head = await stores.s3.send(new HeadObjectCommand({ Bucket: stores.bucketName, Key: key }));
        return { bytes: head.ContentLength, etag: head.ETag?.replaceAll('"', "") };
      }
      if (request["op"] === "delete") {
        await stores.s3.send(new DeleteObjectCommand({ Bucket: stores.bucketName, Key: key }));
        return true;
      }
      throw new Error(`unknown op ${String(request["op"])}`);
    },
    () => stores.close(),
  );
}

async function clientRole(): Promise<void> {
  serveParent(async (request) => {
    if (request["op"] === "peak") return peakRss();
    const run = request as unknown as RunRequest;
    // Load the variant's code first, then forget the start-up peak (tsx compiling, module loading):
    // VmHWM then tells what the transfer itself needed on top of the loaded code.
    if (run.variant === "raw") await import("@aws-sdk/lib-storage");
    if (run.variant === "ours")
      await Promise.all([import("@hls-s2/core/hub"), import("@hls-s2/core/transfer")]);
    resetPeakRss();
    if (run.variant === "raw") return runRaw(run);
    if (run.variant === "ours") return runOurs(run);
    return runBuffered(run);
  });
}

/** Linux: writing 5 to clear_refs resets this process's VmHWM to its current RSS. */
function resetPeakRss(): void {
  writeFileSync("/proc/self/clear_refs", "5");
}

function valueUrl(hub: HubInfo): string {
  return `${hub.url}/dhus/odata/v1/Products('${hub.id}')/$value`;
}

function openBody(hub: HubInfo): Promise<import("node:http").IncomingMessage> {
  const auth = Buffer.from(`${CREDENTIALS.username}:${CREDENTIALS.password}`).toString("base64");
  return new Promise((resolve, reject) => {
    get(valueUrl(hub), { headers: { authorization: `Basic ${auth}` } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`hub answered ${res.statusCode}`));
      else resolve(res);
    }).on("error", reject);
  });
}

async function runRaw({ hub, store, key }: RunRequest): Promise<RunAnswer> {
  const { Upload } = await import("@aws-sdk/lib-storage");
  const s3 = s3Client(store.endpoint);
  const began = process.hrtime.bigint();
  const body = await openBody(hub);
  await new Upload({
    client: s3,
    params: { Bucket: store.bucket, Key: key, Body: body },
    partSize: PART_SIZE_BYTES,
    queueSize: QUEUE_SIZE,
  }).done();
  const elapsed = seconds(began);
  s3.destroy();
  return { seconds: elapsed, bytes: hub.sizeBytes };
}

async function runOurs({ hub, store, key }: RunRequest): Promise<RunAnswer> {
  const [{ DhusHub }, { transferGranule }] = await Promise.all([
    import("@hls-s2/core/hub"),
    import("@hls-s2/core/transfer"),
  ]);
  const s3 = s3Client(store.endpoint);
  const dhus = new DhusHub({
    url: hub.url,
    credentials: CREDENTIALS,
    filterRules: { maxAcquisitionAgeDays: 30 },
  });
  // Observe without changing the path: when the body ends ('end' does not switch the stream's mode)
  // and how long CompleteMultipartUpload takes (s3rver concatenates the parts there; S3 does not).
  let lastByteAt: bigint | undefined;
  let completeSeconds = 0;
  const observed = {
    openDownload: async (...args: Parameters<typeof dhus.openDownload>) => {
      const download = await dhus.openDownload(...args);
      download.body.once("end", () => {
        lastByteAt = process.hrtime.bigint();
      });
      return download;
    },
  };
  const send = s3.send.bind(s3) as (command: unknown, options?: unknown) => Promise<unknown>;
  (s3 as unknown as { send: typeof send }).send = async (command, options) => {
    if (!(command instanceof CompleteMultipartUploadCommand)) return send(command, options);
    const started = process.hrtime.bigint();
    try {
      return await send(command, options);
    } finally {
      completeSeconds = seconds(started);
    }
  };
  const began = process.hrtime.bigint();
  const result = await transferGranule(
    { granuleId: hub.id, bucket: store.bucket, key, expectedMd5: hub.md5, hub: observed, s3 },
    { partSizeBytes: PART_SIZE_BYTES, queueSize: QUEUE_SIZE },
  );
  const elapsed = seconds(began);
  s3.destroy();
  const tailSeconds = lastByteAt === undefined ? undefined : seconds(lastByteAt);
  return { seconds: elapsed, bytes: result.bytes, tailSeconds, completeSeconds };
}

const SLICE_BYTES = 256 * MiB;

function* slices(whole: Buffer): Generator<Buffer> {
  for (let offset = 0; offset < whole.length; offset += SLICE_BYTES)
    yield whole.subarray(offset, offset + SLICE_BYTES);
}

async function runBuffered({ hub, store, key }: RunRequest): Promise<RunAnswer> {
  const s3 = s3Client(store.endpoint);
  const began = process.hrtime.bigint();
  const body = await openBody(hub);
  // The reference system's way, made as kind as it can be: one allocation of the announced size.
  const length = Number(body.headers["content-length"]);
  const whole = Buffer.allocUnsafe(length);
  let filled = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    chunk.copy(whole, filled);
    filled += chunk.length;
  }
  if (filled !== length) throw new Error(`body ended after ${filled} of ${length} bytes`);
  // OpenSSL takes at most 2 GiB per update: feed the one buffer in slices.
  const hash = createHash("md5");
  for (let offset = 0; offset < length; offset += SLICE_BYTES)
    hash.update(whole.subarray(offset, offset + SLICE_BYTES));
  const md5 = hash.digest();
  if (md5.toString("hex") !== hub.md5) throw new Error("MD5 mismatch");
  await s3.send(
    new PutObjectCommand({
      Bucket: store.bucket,
      Key: key,
      // One PUT of the one buffer, handed to the socket in slices (a single write stops at 2 GiB).
      Body: Readable.from(slices(whole)),
      ContentLength: length,
      ContentMD5: md5.toString("base64"),
    }),
  );
  const elapsed = seconds(began);
  s3.destroy();
  return { seconds: elapsed, bytes: length };
}

if (process.argv[1] !== undefined && ROLES_SCRIPT === process.argv[1]) {
  const { values } = parseArgs({
    options: { role: { type: "string" }, size: { type: "string" }, bandwidth: { type: "string" } },
  });
  if (values.role === "hub") {
    await hubRole(Number(values.size), values.bandwidth === undefined ? undefined : Number(values.bandwidth));
  } else if (values.role === "store") {
    await storeRole();
  } else if (values.role === "client") {
    await clientRole();
  } else {
    throw new Error(`unknown --role ${values.role}`);
  }
}
