/**
 * Benchmark (not a test): the mock hub serves a 4 GiB product from a child process while this
 * process streams it over loopback and discards the bytes. Prints throughput and the server's peak
 * RSS, which must stay under 150 MiB because bytes are generated per 64 KiB block, never buffered.
 *
 *   npx tsx bench/mock-hub-rss.ts [--size 4GiB] [--verify]
 *
 * --verify also hashes the body here and compares it with the catalogue's MD5 (MD5 then bounds the speed).
 */
import { fork } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { get } from "node:http";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createCatalogue, startMockHub } from "@hls-s2/mock-hub";

const RSS_LIMIT = 150 * 1024 * 1024;
const MiB = 1024 * 1024;

type ToParent =
  | { ready: { url: string; id: string; sizeBytes: number } }
  | { rss: number }
  | { md5: string }
  | { peak: number };
type ToChild = "rss" | "md5" | "peak";

/** Peak resident set size of this process (VmHWM), in bytes. */
function peakRss(): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return match === null ? process.memoryUsage().rss : Number(match[1]) * 1024;
}

async function child(sizeBytes: number): Promise<void> {
  const catalogue = createCatalogue({ seed: "bench", days: ["2026-11-24"], granulesPerDay: 1, sizeBytes });
  const hub = await startMockHub({ catalogue });
  const product = catalogue.products[0]!;
  const send = (message: ToParent) => process.send?.(message);
  process.on("message", async (message: ToChild) => {
    if (message === "rss") send({ rss: process.memoryUsage().rss });
    if (message === "peak") send({ peak: peakRss() });
    if (message === "md5") send({ md5: await catalogue.expectedMd5Async(product.id) });
  });
  process.on("disconnect", () => void hub.close().then(() => process.exit(0)));
  send({ ready: { url: hub.url, id: product.id, sizeBytes: product.sizeBytes } });
}

async function parent(sizeText: string, verify: boolean): Promise<void> {
  const server = fork(fileURLToPath(import.meta.url), ["--child", "--size", sizeText], {
    execArgv: ["--import", "tsx"],
  });
  const next = <K extends string>(key: K) =>
    new Promise<Record<K, unknown>>((resolve) => {
      const listener = (message: Record<string, unknown>) => {
        if (key in message) {
          server.off("message", listener);
          resolve(message as Record<K, unknown>);
        }
      };
      server.on("message", listener);
    });
  const ask = <K extends ToChild>(key: K) => {
    const answer = next(key);
    server.send(key);
    return answer;
  };
  const { ready } = (await next("ready")) as { ready: { url: string; id: string; sizeBytes: number } };
  const idleRss = ((await ask("rss")) as { rss: number }).rss;

  let sampled = idleRss;
  const sampler = setInterval(() => {
    server.send("rss");
  }, 100);
  server.on("message", (message: { rss?: number }) => {
    if (message.rss !== undefined) sampled = Math.max(sampled, message.rss);
  });

  const hash = verify ? createHash("md5") : undefined;
  const began = process.hrtime.bigint();
  const received = await new Promise<number>((resolve, reject) => {
    get(`${ready.url}/dhus/odata/v1/Products('${ready.id}')/$value`, (res) => {
      let bytes = 0;
      res.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        hash?.update(chunk);
      });
      res.on("end", () => resolve(bytes));
      res.on("error", reject);
    }).on("error", reject);
  });
  const seconds = Number(process.hrtime.bigint() - began) / 1e9;
  clearInterval(sampler);
  const peak = ((await ask("peak")) as { peak: number }).peak;

  console.log(
    `product            ${(ready.sizeBytes / MiB).toFixed(0)} MiB, received ${(received / MiB).toFixed(0)} MiB`,
  );
  console.log(
    `loopback $value    ${(received / 1e6 / seconds).toFixed(0)} MB/s (${seconds.toFixed(2)} s${verify ? ", MD5 computed by the client" : ", bytes discarded"})`,
  );
  console.log(
    `server RSS         idle ${(idleRss / MiB).toFixed(1)} MiB, sampled max ${(sampled / MiB).toFixed(1)} MiB, peak (VmHWM) ${(peak / MiB).toFixed(1)} MiB (limit ${RSS_LIMIT / MiB} MiB)`,
  );
  let ok = received === ready.sizeBytes && peak < RSS_LIMIT;
  if (hash !== undefined) {
    const expected = ((await ask("md5")) as { md5: string }).md5;
    const actual = hash.digest("hex");
    console.log(`md5                ${actual} ${actual === expected ? "==" : "!="} catalogue ${expected}`);
    ok &&= actual === expected;
  }
  console.log(ok ? "OK" : "FAILED");
  server.disconnect();
  process.exitCode = ok ? 0 : 1;
}

const { values } = parseArgs({
  options: {
    child: { type: "boolean", default: false },
    size: { type: "string", default: "4GiB" },
    verify: { type: "boolean", default: false },
  },
});
const units: Record<string, number> = { MiB, GiB: 1024 * MiB };
const sizeMatch = /^(\d+)(MiB|GiB)$/.exec(values.size);
if (sizeMatch === null) throw new RangeError(`--size must look like 4GiB or 512MiB, got ${values.size}`);
const sizeBytes = Number(sizeMatch[1]) * (units[sizeMatch[2]!] ?? 1);
if (values.child) await child(sizeBytes);
else await parent(values.size, values.verify);
