/**
 * Benchmark: the Lambda handlers as Lambda runs them, each bundled alone and in its own process (one
 * container), against the mock hub (CDSE API) and the embedded stores of this process.
 * - sandbox: the Download handler (claim, slot, checksum, streamed MD5, per-part Content-MD5, multipart
 *   upload) on one product at the hub's 20 MB/s per connection, inside a cgroup with the CPU share and
 *   the memory of its deployed Lambda size, beside the same run unconfined: throughput and peak RSS.
 * - handlers: every other handler over one day of 13,000 granules (GenerateQueries, FetchPage over the
 *   whole day, WriteManifest, Summarize) and a burst of pushes: each container's peak RSS and CPU time,
 *   the measurements stacks/sizes.ts sizes the functions by.
 *
 *   npx tsx bench/lambda.ts [--only sandbox,handlers] [--size 1GiB] [--hub-mbps 20] [--env KEY=VALUE …]
 *
 * --env adds a variable to the Download function's environment (e.g. a check that is off by default).
 * The sandbox needs root and cgroup v1 (it says so and stops otherwise). Peak RSS is VmHWM, code included.
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DeleteObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { parseConfig } from "@hls-s2/core/config";
import { formatBytes, parseByteSize } from "@hls-s2/core/domain";
import type { MockProduct } from "@hls-s2/mock-hub";
import { aPushNotification } from "@hls-s2/testing/push";
import { FUNCTION_SIZES, PEAK_RSS_SHARE, type SizedFunction } from "../stacks/sizes";
import type { ChildFigures } from "./lambda-child";
import { LambdaCgroup } from "./lambda-sandbox";
import { CREDENTIALS, DAY, startWorld, type World } from "./lambda-world";
import { MiB, type Row } from "./lib";
import { HUB_QUOTA_BYTES_PER_SECOND } from "./transfer";

const SCRIPT = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------- sandbox

export interface SandboxRun {
  confined: boolean;
  memoryMb: number;
  seconds: number;
  /** From the hub's first body byte to its last, as the hub saw it. */
  bodySeconds: number;
  bytes: number;
  peakRssBytes: number;
  cpuSeconds: number;
  cgroup?: ReturnType<LambdaCgroup["stats"]>;
}

export interface SandboxResult {
  sizeBytes: number;
  bytesPerSecond: number;
  partSizeBytes: number;
  queueSize: number;
  runs: SandboxRun[];
}

/** The Download handler at its deployed size in a cgroup, then unconfined, one product each. */
export async function benchSandbox(options: {
  sizeBytes: number;
  bytesPerSecond: number;
  memoryMb?: number;
  env?: Record<string, string>;
  log?: (line: string) => void;
}): Promise<SandboxResult> {
  const memoryMb = options.memoryMb ?? FUNCTION_SIZES.Download.memoryMb;
  const log = options.log ?? (() => undefined);
  const world = await startWorld(
    {
      seed: "bench-sandbox",
      days: [DAY],
      granulesPerDay: 2,
      platforms: ["S2A"],
      sizeBytes: options.sizeBytes,
    },
    options.bytesPerSecond,
  );
  // The deployed part size and queue: core's defaults, which the stack passes on unless a stage sets them.
  const { partSizeMib, partQueueSize } = parseConfig(world.environment("Download", options.env));
  const runs: SandboxRun[] = [];
  try {
    const products = world.catalogue.products.slice(0, 2);
    for (const product of products) {
      // Hashed before the run: the hub answers the checksum from this cache, never while a body streams.
      await world.catalogue.expectedMd5Async(product.id);
      await world.store.recordDiscovered(discovered(product), product.publishedAt.slice(0, 10));
    }
    for (const [index, confined] of [true, false].entries()) {
      const product = products[index]!;
      const cgroup = confined ? new LambdaCgroup(memoryMb) : undefined;
      cgroup?.create();
      const { child, invoke } = await world.container(
        "Download",
        world.environment("Download", options.env),
        cgroup,
      );
      try {
        const body = watchBody(world, product);
        const answer = await invoke<{ outcome: string; bytes?: number }>({
          granuleId: product.id,
          owner: `bench-${index}`,
        });
        const bodySeconds = body.stop();
        if (answer.result.outcome !== "downloaded") throw new Error(`Download said ${answer.result.outcome}`);
        await checkStored(world, product);
        const run: SandboxRun = {
          confined,
          memoryMb,
          seconds: answer.seconds,
          bodySeconds,
          bytes: product.sizeBytes,
          peakRssBytes: answer.peakRssBytes,
          cpuSeconds: answer.cpuSeconds,
          ...(cgroup !== undefined && { cgroup: cgroup.stats() }),
        };
        runs.push(run);
        log(
          `sandbox ${confined ? `in ${memoryMb} MB` : "unconfined"}: ${(run.bytes / 1e6 / run.seconds).toFixed(1)} MB/s, peak RSS ${(run.peakRssBytes / MiB).toFixed(0)} MiB, CPU ${run.cpuSeconds.toFixed(1)} s`,
        );
      } finally {
        await child.stop();
        cgroup?.remove();
      }
    }
  } finally {
    await world.close();
  }
  return {
    sizeBytes: options.sizeBytes,
    bytesPerSecond: options.bytesPerSecond,
    partSizeBytes: partSizeMib * MiB,
    queueSize: partQueueSize,
    runs,
  };
}

function discovered(product: MockProduct) {
  const { id, name, tileId, platform, sensingStart, sensingEnd, publishedAt, sizeBytes } = product;
  return { granuleId: id, name, tileId, platform, sensingStart, sensingEnd, publishedAt, sizeBytes };
}

/** Times a product's body at the hub: first byte served to last (polled every 50 ms). */
function watchBody(world: World, product: MockProduct): { stop(): number } {
  let first: number | undefined;
  let last: number | undefined;
  const timer = setInterval(() => {
    const served = world.hub.stats.granule(product.id).bytesServed;
    if (served > 0) first ??= performance.now();
    if (served >= product.sizeBytes) last ??= performance.now();
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      return first === undefined || last === undefined ? Number.NaN : (last - first) / 1000;
    },
  };
}

/** s3rver's ETag is the whole object's MD5: the object is the product, byte for byte. Then deleted. */
async function checkStored(world: World, product: MockProduct): Promise<void> {
  const target = { Bucket: world.stores.bucketName, Key: `${product.name.replace(/\.SAFE$/, "")}.zip` };
  const head = await world.stores.s3.send(new HeadObjectCommand(target));
  // Freed before the next run: the store lives in memory (lambda-world.ts).
  await world.stores.s3.send(new DeleteObjectCommand(target));
  const md5 = await world.catalogue.expectedMd5Async(product.id);
  if (head.ContentLength !== product.sizeBytes || head.ETag?.replaceAll('"', "") !== md5)
    throw new Error(
      `stored ${head.ContentLength} bytes, ETag ${head.ETag}; want ${product.sizeBytes}, ${md5}`,
    );
}

export const SANDBOX_GOALS = {
  /** The body as fast as the hub serves it: the Download never holds the hub back. */
  bodyVsHub: 0.98,
  /** Peak RSS inside the sandbox, as a share of the function's memory (stacks/sizes.ts's rule). */
  peakRssShare: PEAK_RSS_SHARE,
} as const;

export function sandboxRows(result: SandboxResult): Row[] {
  const rows: Row[] = [];
  const ideal = result.sizeBytes / result.bytesPerSecond;
  const setting = `${formatBytes(result.partSizeBytes)} parts × queue ${result.queueSize}`;
  for (const run of result.runs) {
    const where = run.confined
      ? `in ${run.memoryMb} MB (${(run.memoryMb / 1769).toFixed(3)} vCPU)`
      : "unconfined";
    const share = run.cpuSeconds / run.seconds;
    rows.push({
      benchmark: "sandbox",
      case: `Download ${formatBytes(result.sizeBytes)} ${where}`,
      metric: "body MB/s (wall), peak RSS, CPU",
      value: `${(run.bytes / 1e6 / run.bodySeconds).toFixed(1)} MB/s (${(run.bytes / 1e6 / run.seconds).toFixed(1)}; ${(run.seconds - run.bodySeconds).toFixed(1)} s after the last hub byte), ${(run.peakRssBytes / MiB).toFixed(0)} MiB; ${share.toFixed(3)} core, ${((run.cpuSeconds * 1e3) / (run.bytes / 1e6)).toFixed(1)} ms per MB${run.cgroup === undefined ? "" : `, throttled ${run.cgroup.throttledPeriods}×, memory limit hits ${run.cgroup.failcnt}`}`,
      ...(run.confined && {
        goal: `body ≥ ${((SANDBOX_GOALS.bodyVsHub * result.bytesPerSecond) / 1e6).toFixed(1)} MB/s, RSS ≤ ⅔ of ${run.memoryMb} MB`,
        met:
          run.bytes / run.bodySeconds >= SANDBOX_GOALS.bodyVsHub * result.bytesPerSecond &&
          run.peakRssBytes <= SANDBOX_GOALS.peakRssShare * run.memoryMb * 1024 * 1024,
      }),
    });
  }
  rows.push({
    benchmark: "sandbox",
    case: `hub ${(result.bytesPerSecond / 1e6).toFixed(0)} MB/s, ${setting}`,
    metric: "ideal (size / hub rate)",
    value: `${ideal.toFixed(1)} s`,
  });
  return rows;
}

// ---------------------------------------------------------------- handlers

export interface HandlerRun {
  name: SizedFunction;
  invocations: number;
  seconds: number;
  peakRssBytes: number;
  cpuSeconds: number;
}

/** Every handler but Download over one day of `granulesPerDay` (and `pushes` pushes), each in its own container. */
export async function benchHandlers(options: {
  granulesPerDay: number;
  pushes?: number;
  log?: (line: string) => void;
}): Promise<HandlerRun[]> {
  const log = options.log ?? (() => undefined);
  const world = await startWorld({
    seed: "bench-handlers",
    days: [DAY],
    granulesPerDay: options.granulesPerDay,
    sizeBytes: MiB,
  });
  const runs: HandlerRun[] = [];
  const window = { from: DAY, to: DAY };
  try {
    const run = async <T>(name: SizedFunction, events: () => AsyncGenerator<unknown, void, T>) => {
      const { child, invoke } = await world.container(name, world.environment(name));
      const began = process.hrtime.bigint();
      let invocations = 0;
      let last: ChildFigures = { peakRssBytes: 0, cpuSeconds: 0 };
      try {
        const generator = events();
        let next = await generator.next(undefined as T);
        while (!next.done) {
          const answer = await invoke<T>(next.value);
          invocations += 1;
          last = answer;
          next = await generator.next(answer.result);
        }
      } finally {
        await child.stop();
      }
      const entry = {
        name,
        invocations,
        seconds: Number(process.hrtime.bigint() - began) / 1e9,
        peakRssBytes: last.peakRssBytes,
        cpuSeconds: last.cpuSeconds,
      };
      runs.push(entry);
      log(
        `${name}: ${invocations} invocation(s), peak RSS ${(entry.peakRssBytes / MiB).toFixed(0)} MiB, CPU ${entry.cpuSeconds.toFixed(1)} s`,
      );
    };
    let queries: { day: string; platform: string }[] = [];
    await run<{ queries: typeof queries }>("GenerateQueries", async function* () {
      queries = (yield window).queries;
    });
    await run<{ finished: boolean }>("FetchPage", async function* () {
      for (const query of queries) {
        let result = yield query;
        while (!result.finished) result = yield query;
      }
    });
    await run("WriteManifest", async function* () {
      yield { ...window, executionName: "bench" };
    });
    await run("Summarize", async function* () {
      yield window;
    });
    await run("ReceivePush", async function* () {
      for (let i = 0; i < (options.pushes ?? 50); i++) yield pushEvent();
    });
    await run("StartPushedDownloads", async function* () {
      yield { time: new Date().toISOString() };
    });
  } finally {
    await world.close();
  }
  return runs;
}

function pushEvent() {
  return {
    rawPath: "/events",
    headers: {
      authorization: `Basic ${Buffer.from(`${CREDENTIALS.username}:${CREDENTIALS.password}`).toString("base64")}`,
      "content-type": "application/json",
    },
    requestContext: { http: { method: "POST", sourceIp: "127.0.0.1" } },
    body: JSON.stringify(aPushNotification({ notifiedAt: new Date() })),
    isBase64Encoded: false,
  };
}

export function handlerRows(runs: readonly HandlerRun[], granulesPerDay: number): Row[] {
  return runs.map((run) => {
    const memoryMb = FUNCTION_SIZES[run.name].memoryMb;
    return {
      benchmark: "handlers",
      case: `${run.name} (${granulesPerDay.toLocaleString("en-US")} granules/day)`,
      metric: "peak RSS, CPU",
      value: `${(run.peakRssBytes / MiB).toFixed(0)} MiB of ${memoryMb} MB; ${run.cpuSeconds.toFixed(1)} s CPU over ${run.invocations} call(s), ${(run.cpuSeconds / (memoryMb / 1769)).toFixed(0)} s at its CPU share`,
      goal: `≤ ⅔ of ${memoryMb} MB`,
      met: run.peakRssBytes <= PEAK_RSS_SHARE * memoryMb * 1024 * 1024,
    };
  });
}

const invokedDirectly = process.argv[1] !== undefined && SCRIPT === process.argv[1];
if (invokedDirectly) {
  const { values } = parseArgs({
    options: {
      only: { type: "string", default: "sandbox,handlers" },
      size: { type: "string", default: "1GiB" },
      "hub-mbps": { type: "string", default: String(HUB_QUOTA_BYTES_PER_SECOND / 1e6) },
      memory: { type: "string" },
      granules: { type: "string", default: "13000" },
      env: { type: "string", multiple: true, default: [] },
    },
  });
  const { printTable } = await import("./lib");
  const { loadavg } = await import("node:os");
  const log = (line: string) => console.log(`  ${line}`);
  const rows: Row[] = [];
  const only = values.only.split(",");
  const env = Object.fromEntries(
    values.env.map((pair) => {
      const at = pair.indexOf("=");
      if (at < 1) throw new RangeError(`--env takes KEY=VALUE, got ${pair}`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
  console.log(
    `load average at start ${loadavg()
      .map((n) => n.toFixed(2))
      .join(", ")}`,
  );
  if (only.includes("sandbox")) {
    const sizeBytes = parseByteSize(values.size, "--size");
    console.log(
      `sandbox: Download of ${formatBytes(sizeBytes)} at ${values["hub-mbps"]} MB/s, in a cgroup and unconfined`,
    );
    const result = await benchSandbox({
      sizeBytes,
      bytesPerSecond: Number(values["hub-mbps"]) * 1e6,
      ...(values.memory !== undefined && { memoryMb: Number(values.memory) }),
      env,
      log,
    });
    rows.push(...sandboxRows(result));
  }
  if (only.includes("handlers")) {
    const granulesPerDay = Number(values.granules);
    console.log(`handlers: one day of ${granulesPerDay} granules, each function in its own process`);
    rows.push(...handlerRows(await benchHandlers({ granulesPerDay, log }), granulesPerDay));
  }
  console.log("");
  printTable(rows);
  console.log(
    `load average at end ${loadavg()
      .map((n) => n.toFixed(2))
      .join(", ")}`,
  );
}
