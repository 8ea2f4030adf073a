/**
 * Benchmark: one product from the mock hub into the embedded S3 (s3rver), three ways (raw, ours,
 * buffered: transfer-variants.ts), each in a fresh child process so its peak RSS (VmHWM) is its own.
 * The hub and s3rver run in their own child processes too. Also the hub-limited case: the hub paced
 * at 20 MB/s per connection (CDSE's quota) against the ideal size / 20 MB/s.
 *
 *   npx tsx bench/transfer.ts [--sizes 256MiB,1GiB] [--reps 3] [--hub-limited 200MiB]
 */
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { formatBytes, parseByteSize } from "@hls-s2/core/domain";
import { Child, MiB, seconds } from "./lib";
import {
  type HubInfo,
  PART_SIZE_BYTES,
  ROLES_SCRIPT,
  type RunAnswer,
  type StoreInfo,
  VARIANTS,
  type Variant,
} from "./transfer-variants";

const SCRIPT = fileURLToPath(import.meta.url);
export const HUB_QUOTA_BYTES_PER_SECOND = 20e6;

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
  const client = new Child(ROLES_SCRIPT, ["--role", "client"], {
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
  const store = new Child(ROLES_SCRIPT, ["--role", "store"]);
  const results: VariantResult[] = [];
  try {
    const storeInfo = await store.call<StoreInfo>({ op: "info" });
    for (const { sizeBytes, reps } of options.sizes) {
      const hubChild = new Child(ROLES_SCRIPT, ["--role", "hub", "--size", String(sizeBytes)]);
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
  const store = new Child(ROLES_SCRIPT, ["--role", "store"]);
  const hubChild = new Child(ROLES_SCRIPT, [
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

const invokedDirectly = process.argv[1] !== undefined && SCRIPT === process.argv[1];
if (invokedDirectly) {
  const { values } = parseArgs({
    options: {
      sizes: { type: "string", default: "256MiB,1GiB" },
      reps: { type: "string", default: "3" },
      "hub-limited": { type: "string" },
      hashing: { type: "boolean", default: false },
    },
  });
  const { printTable } = await import("./lib");
  const { hashingRows, hubLimitedRows, transferRows } = await import("./transfer-rows");
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
