/**
 * Benchmark: one product from the mock hub into the embedded S3 (s3rver), three ways, each in a
 * fresh child process so its peak RSS (VmHWM) is its own:
 * - raw: node:http body → lib-storage `Upload` (same part size and queue as ours), no hashing, no checks;
 * - ours: `transferGranule` with `DhusHub` (streamed MD5, own multipart path, MD5 checked before Complete);
 * - buffered: the reference system's way: whole body in memory, MD5, one PutObject with Content-MD5.
 * The hub and s3rver run in their own child processes too. Also the hub-limited case: the hub paced
 * at 20 MB/s per connection (CDSE's quota) against the ideal size / 20 MB/s.
 *
 *   npx tsx bench/transfer.ts [--sizes 256MiB,1GiB] [--reps 3] [--hub-limited 200MiB]
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
import { Child, GiB, MiB, median, peakRss, type Row, seconds, serveParent } from "./lib";

const SCRIPT = fileURLToPath(import.meta.url);
// Core's size helpers, for the parent only: a role child loads core just for the "ours" variant, so a
// variant's peak RSS holds its own code and not the rest of core.
const {
  formatBytes,
  parseByteSize,
}: Pick<typeof import("@hls-s2/core/domain"), "formatBytes" | "parseByteSize"> = process.argv.includes(
  "--role",
)
  ? { formatBytes: String, parseByteSize: Number }
  : await import("@hls-s2/core/domain");
const CREDENTIALS = { username: "bench", password: "bench" };
/** Ours' defaults (transfer.ts): raw uses the same, so the two differ only in what ours adds. */
const PART_SIZE_BYTES = 16 * MiB;
const QUEUE_SIZE = 4;
export const HUB_QUOTA_BYTES_PER_SECOND = 20e6;
export const VARIANTS = ["raw", "ours", "buffered"] as const;
export type Variant = (typeof VARIANTS)[number];

interface HubInfo {
  url: string;
  id: string;
  name: string;
  md5: string;
  sizeBytes: number;
}

interface StoreInfo {
  endpoint: string;
  bucket: string;
}

interface RunRequest {
  variant: Variant;
  hub: HubInfo;
  store: StoreInfo;
  key: string;
}

interface RunAnswer {
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

// ---------------------------------------------------------------- child roles

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

// ---------------------------------------------------------------- parent

export interface VariantResult {
  variant: Variant;
  sizeBytes: number;
  /** One entry per repetition. */
  seconds: number[];
  peakRssBytes: number[];
  skipped?: string;
}

export interface TransferBenchResult {
  runs: VariantResult[];
  hubLimited?: HubLimitedResult;
}

export interface HubLimitedResult {
  sizeBytes: number;
  bytesPerSecond: number;
  idealSeconds: number;
  seconds: number[];
  /** Last hub byte → object visible, and the CompleteMultipartUpload inside that tail. */
  tailSeconds: number[];
  completeSeconds: number[];
}

/** Runs one variant once in a fresh client process; checks the stored object; returns time and peak RSS. */
async function runOnce(variant: Variant, hub: HubInfo, store: Child, storeInfo: StoreInfo) {
  const key = `bench/${variant}/${hub.name}.zip`;
  // BENCH_PROFILE_DIR=/tmp/x writes each client's CPU profile there (how ours was compared with raw).
  const profileDir = process.env["BENCH_PROFILE_DIR"];
  const client = new Child(SCRIPT, ["--role", "client"], {
    execArgv: profileDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", profileDir],
  });
  try {
    const answer = await client.call<RunAnswer>({ variant, hub, store: storeInfo, key });
    const peak = await client.call<number>({ op: "peak" });
    const stored = await store.call<{ bytes?: number; etag?: string }>({ op: "check", key });
    // s3rver's ETag is the whole object's MD5, multipart or not: a cheap end-to-end check of every variant.
    if (stored.bytes !== hub.sizeBytes || stored.etag !== hub.md5) {
      throw new Error(
        `${variant}: stored ${stored.bytes} bytes, ETag ${stored.etag}; want ${hub.sizeBytes}, ${hub.md5}`,
      );
    }
    return { seconds: answer.seconds, peak, tail: answer.tailSeconds, complete: answer.completeSeconds };
  } finally {
    await client.stop();
    await store.call({ op: "delete", key }).catch(() => undefined);
  }
}

/** Transfers each size with each variant `reps` times (variants interleaved), in child processes. */
export async function benchTransfer(options: {
  sizes: { sizeBytes: number; reps: number }[];
  log?: (line: string) => void;
  /** A reason to skip a variant at a size, or undefined to run it. */
  skip?: (variant: Variant, sizeBytes: number) => string | undefined;
}): Promise<VariantResult[]> {
  const log = options.log ?? (() => undefined);
  const store = new Child(SCRIPT, ["--role", "store"]);
  const results: VariantResult[] = [];
  try {
    const storeInfo = await store.call<StoreInfo>({ op: "info" });
    for (const { sizeBytes, reps } of options.sizes) {
      const hubChild = new Child(SCRIPT, ["--role", "hub", "--size", String(sizeBytes)]);
      try {
        const hub = await hubChild.call<HubInfo>({ op: "info" });
        const bySize: VariantResult[] = VARIANTS.map((variant) => ({
          variant,
          sizeBytes,
          seconds: [],
          peakRssBytes: [],
          skipped: options.skip?.(variant, sizeBytes),
        }));
        for (let rep = 0; rep < reps; rep++) {
          for (const entry of bySize) {
            if (entry.skipped !== undefined) continue;
            let outcome: Awaited<ReturnType<typeof runOnce>>;
            try {
              outcome = await runOnce(entry.variant, hub, store, storeInfo);
            } catch (error) {
              entry.skipped = `failed: ${(error as Error).message.split("\n")[0]}`;
              log(`transfer ${formatBytes(sizeBytes)} ${entry.variant} #${rep + 1}: ${entry.skipped}`);
              continue;
            }
            const { seconds: took, peak } = outcome;
            entry.seconds.push(took);
            entry.peakRssBytes.push(peak);
            log(
              `transfer ${formatBytes(sizeBytes)} ${entry.variant} #${rep + 1}: ${took.toFixed(2)} s, ${(sizeBytes / 1e6 / took).toFixed(0)} MB/s, peak RSS ${(peak / MiB).toFixed(0)} MiB`,
            );
          }
        }
        results.push(...bySize);
      } finally {
        await hubChild.stop();
      }
    }
  } finally {
    await store.stop();
  }
  return results;
}

/** Ours against a hub paced at `bytesPerSecond` per connection: how close to size / rate. */
export async function benchHubLimited(options: {
  sizeBytes: number;
  reps: number;
  bytesPerSecond?: number;
  log?: (line: string) => void;
}): Promise<HubLimitedResult> {
  const bytesPerSecond = options.bytesPerSecond ?? HUB_QUOTA_BYTES_PER_SECOND;
  const log = options.log ?? (() => undefined);
  const store = new Child(SCRIPT, ["--role", "store"]);
  const hubChild = new Child(SCRIPT, [
    "--role",
    "hub",
    "--size",
    String(options.sizeBytes),
    "--bandwidth",
    String(bytesPerSecond),
  ]);
  const times: number[] = [];
  const tails: number[] = [];
  const completes: number[] = [];
  try {
    const storeInfo = await store.call<StoreInfo>({ op: "info" });
    const hub = await hubChild.call<HubInfo>({ op: "info" });
    for (let rep = 0; rep < options.reps; rep++) {
      const { seconds: took, tail, complete } = await runOnce("ours", hub, store, storeInfo);
      times.push(took);
      tails.push(tail ?? Number.NaN);
      completes.push(complete ?? Number.NaN);
      log(
        `hub-limited ${formatBytes(options.sizeBytes)} ours #${rep + 1}: ${took.toFixed(2)} s (tail after last byte ${tail?.toFixed(2)} s, of which Complete ${complete?.toFixed(2)} s)`,
      );
    }
  } finally {
    await hubChild.stop();
    await store.stop();
  }
  return {
    sizeBytes: options.sizeBytes,
    bytesPerSecond,
    idealSeconds: options.sizeBytes / bytesPerSecond,
    seconds: times,
    tailSeconds: tails,
    completeSeconds: completes,
  };
}

export const GOALS = {
  oursVsRawThroughput: 0.85,
  rssVsBufferedAt1GiB: 0.25,
  rssFlatTolerance: 0.15,
  hubLimitedVsIdeal: 1.05,
} as const;

/** Table rows (with goals) from the transfer results. */
export function transferRows(runs: readonly VariantResult[]): Row[] {
  const rows: Row[] = [];
  const find = (variant: Variant, sizeBytes: number) =>
    runs.find((run) => run.variant === variant && run.sizeBytes === sizeBytes && run.seconds.length > 0);
  const sizes = [...new Set(runs.map((run) => run.sizeBytes))].sort((a, b) => a - b);
  for (const sizeBytes of sizes) {
    const size = formatBytes(sizeBytes);
    for (const variant of VARIANTS) {
      const run = runs.find((r) => r.variant === variant && r.sizeBytes === sizeBytes);
      if (run === undefined) continue;
      if (run.skipped !== undefined || run.seconds.length === 0) {
        rows.push({
          benchmark: "transfer",
          case: `${size} ${variant}`,
          metric: "skipped",
          value: run.skipped ?? "",
        });
        continue;
      }
      const time = median(run.seconds);
      rows.push({
        benchmark: "transfer",
        case: `${size} ${variant}`,
        metric: "MB/s, peak RSS",
        value: `${(sizeBytes / 1e6 / time).toFixed(1)} MB/s (${time.toFixed(2)} s, n=${run.seconds.length}), ${(median(run.peakRssBytes) / MiB).toFixed(0)} MiB`,
      });
    }
    const ours = find("ours", sizeBytes);
    const raw = find("raw", sizeBytes);
    const buffered = find("buffered", sizeBytes);
    if (ours !== undefined && raw !== undefined) {
      const ratio = median(ours.seconds) / median(raw.seconds);
      rows.push({
        benchmark: "transfer",
        case: size,
        metric: "wall ours/raw",
        value: `${ratio.toFixed(2)} (throughput ${(1 / ratio).toFixed(2)}× raw)`,
        goal: `throughput ≥ ${GOALS.oursVsRawThroughput}× raw`,
        met: 1 / ratio >= GOALS.oursVsRawThroughput,
      });
    }
    if (ours !== undefined && buffered !== undefined) {
      const rss = median(ours.peakRssBytes) / median(buffered.peakRssBytes);
      rows.push({
        benchmark: "transfer",
        case: size,
        metric: "wall ours/buffered",
        value: (median(ours.seconds) / median(buffered.seconds)).toFixed(2),
      });
      rows.push({
        benchmark: "transfer",
        case: size,
        metric: "peak RSS ours/buffered",
        value: rss.toFixed(3),
        ...(sizeBytes === GiB && {
          goal: `≤ ${GOALS.rssVsBufferedAt1GiB}`,
          met: rss <= GOALS.rssVsBufferedAt1GiB,
        }),
      });
    }
  }
  const oursRuns = runs.filter((run) => run.variant === "ours" && run.seconds.length > 0);
  if (oursRuns.length > 1) {
    const peaks = oursRuns.map((run) => median(run.peakRssBytes));
    const smallest = peaks[0]!;
    const spread = Math.max(...peaks.map((peak) => Math.abs(peak - smallest) / smallest));
    rows.push({
      benchmark: "transfer",
      case: `ours ${oursRuns.map((run) => formatBytes(run.sizeBytes)).join(" → ")}`,
      metric: "peak RSS flat",
      value: `${peaks.map((peak) => `${(peak / MiB).toFixed(0)}`).join(" / ")} MiB (max ${(spread * 100).toFixed(1)}% off the smallest)`,
      goal: `within ±${GOALS.rssFlatTolerance * 100}%`,
      met: spread <= GOALS.rssFlatTolerance,
    });
  }
  return rows;
}

export function hubLimitedRows(result: HubLimitedResult): Row[] {
  const time = median(result.seconds);
  const ratio = time / result.idealSeconds;
  return [
    {
      benchmark: "hub-limited",
      case: `${formatBytes(result.sizeBytes)} at ${(result.bytesPerSecond / 1e6).toFixed(0)} MB/s`,
      metric: "wall / ideal",
      value: `${ratio.toFixed(3)} (${time.toFixed(2)} s vs ${result.idealSeconds.toFixed(2)} s, n=${result.seconds.length})`,
      goal: `≤ ${GOALS.hubLimitedVsIdeal}`,
      met: ratio <= GOALS.hubLimitedVsIdeal,
    },
    {
      benchmark: "hub-limited",
      case: "after the last hub byte",
      metric: "tail (Complete in it)",
      value: `${median(result.tailSeconds).toFixed(2)} s (${median(result.completeSeconds).toFixed(2)} s); without it ${((time - median(result.tailSeconds)) / result.idealSeconds).toFixed(3)} × ideal`,
    },
  ];
}

/**
 * What ours computes that raw does not, timed alone on this machine: the streamed MD5 (hash-wasm,
 * resumable) and the per-part Content-MD5 (native), over `sizeBytes` in 16 MiB parts.
 */
export async function benchHashing(
  sizeBytes = 256 * MiB,
): Promise<{ sizeBytes: number; hashWasmSeconds: number; partMd5Seconds: number }> {
  const { createMD5 } = await import("hash-wasm");
  const part = Buffer.allocUnsafe(PART_SIZE_BYTES).fill(7);
  const parts = Math.ceil(sizeBytes / PART_SIZE_BYTES);
  const hasher = await createMD5();
  let began = process.hrtime.bigint();
  for (let i = 0; i < parts; i++) hasher.update(part);
  hasher.digest("hex");
  const hashWasmSeconds = seconds(began);
  began = process.hrtime.bigint();
  for (let i = 0; i < parts; i++) createHash("md5").update(part).digest("base64");
  return { sizeBytes, hashWasmSeconds, partMd5Seconds: seconds(began) };
}

export function hashingRows(
  hashing: { sizeBytes: number; hashWasmSeconds: number; partMd5Seconds: number },
  runs: readonly VariantResult[],
): Row[] {
  const perByte = (hashing.hashWasmSeconds + hashing.partMd5Seconds) / hashing.sizeBytes;
  const rows: Row[] = [
    {
      benchmark: "transfer",
      case: "hashing alone",
      metric: "hash-wasm MD5 + part MD5",
      value: `${(hashing.sizeBytes / 1e6 / hashing.hashWasmSeconds).toFixed(0)} MB/s + ${(hashing.sizeBytes / 1e6 / hashing.partMd5Seconds).toFixed(0)} MB/s (one core)`,
    },
  ];
  for (const ours of runs.filter((run) => run.variant === "ours" && run.seconds.length > 0)) {
    const raw = runs.find(
      (run) => run.variant === "raw" && run.sizeBytes === ours.sizeBytes && run.seconds.length > 0,
    );
    if (raw === undefined) continue;
    rows.push({
      benchmark: "transfer",
      case: formatBytes(ours.sizeBytes),
      metric: "ours − raw vs hashing",
      value: `${(median(ours.seconds) - median(raw.seconds)).toFixed(2)} s slower; its hashing alone ${(perByte * ours.sizeBytes).toFixed(2)} s`,
    });
  }
  return rows;
}

const invokedDirectly = process.argv[1] !== undefined && SCRIPT === process.argv[1];
if (invokedDirectly) {
  const { values } = parseArgs({
    options: {
      role: { type: "string" },
      size: { type: "string" },
      bandwidth: { type: "string" },
      sizes: { type: "string", default: "256MiB,1GiB" },
      reps: { type: "string", default: "3" },
      "hub-limited": { type: "string" },
      hashing: { type: "boolean", default: false },
    },
  });
  if (values.role === "hub") {
    await hubRole(Number(values.size), values.bandwidth === undefined ? undefined : Number(values.bandwidth));
  } else if (values.role === "store") {
    await storeRole();
  } else if (values.role === "client") {
    await clientRole();
  } else {
    const { printTable } = await import("./lib");
    const log = (line: string) => console.log(line);
    if (values.hashing) {
      printTable(hashingRows(await benchHashing(), []));
      process.exit(0);
    }
    const runs = await benchTransfer({
      sizes: values.sizes
        .split(",")
        .map((text) => ({ sizeBytes: parseByteSize(text, "--sizes"), reps: Number(values.reps) })),
      log,
    });
    const rows = transferRows(runs);
    if (values["hub-limited"] !== undefined) {
      rows.push(
        ...hubLimitedRows(
          await benchHubLimited({
            sizeBytes: parseByteSize(values["hub-limited"], "--hub-limited"),
            reps: 1,
            log,
          }),
        ),
      );
    }
    printTable(rows);
  }
}
