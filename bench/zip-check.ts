/**
 * The zip check's cost, side by side in one run:
 * - CPU per GiB of the hashing path alone: hash-wasm MD5 (what the part pipeline feeds) vs MD5 + the
 *   zip check, over the same in-memory mock zip in 16 MiB parts;
 * - the whole transfer path with the check off and on: one process streams the mock hub's zip (a
 *   child process, so its CPU is not ours) through transferGranule into an S3 that drops the parts.
 * The S3 stand-in costs almost nothing, so the transfer ratio is an upper bound of what the check adds.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { get, type IncomingMessage } from "node:http";
import { fileURLToPath } from "node:url";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { transferGranule, ZipCheck } from "@hls-s2/core/transfer";
import { createCatalogue } from "@hls-s2/mock-hub";
import { mockClient } from "aws-sdk-client-mock";
import { createMD5 } from "hash-wasm";
import { GiB, MiB, median, type Row } from "./lib";

const PART = 16 * MiB;
const DAY = "2026-01-01";
const SEED = "zip-bench";

export interface ZipCheckResult {
  sizeBytes: number;
  /** CPU seconds per GiB, one entry per repetition. */
  md5CpuPerGiB: number[];
  md5AndZipCpuPerGiB: number[];
  transfer: { check: boolean; seconds: number; cpuSeconds: number }[];
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

async function hashOnce(bytes: Buffer, zip: boolean, folder: string): Promise<number> {
  const md5 = await createMD5();
  const check = zip ? await ZipCheck.create(folder) : undefined;
  const start = process.cpuUsage();
  for (let at = 0; at < bytes.length; at += PART) {
    const part = bytes.subarray(at, at + PART);
    md5.update(part);
    check?.update(part);
  }
  md5.digest("hex");
  if (check?.finish(bytes.length) !== undefined) throw new Error("the bench's zip failed its check");
  return (cpuSeconds(start) * GiB) / bytes.length;
}

/** Starts the mock hub CLI in a child process with one product; resolves its URL. */
async function startHub(sizeBytes: number): Promise<{ url: string; child: ChildProcess }> {
  const cli = fileURLToPath(new URL("../packages/mock-hub/src/cli.ts", import.meta.url));
  const args = ["--import", "tsx", cli, "--port", "0", "--seed", SEED, "--days", DAY, "--granules", "1"];
  const child = spawn(process.execPath, [...args, "--size", String(sizeBytes)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const found = /listening on (\S+)/.exec(out);
      if (found?.[1] !== undefined) resolve(found[1]);
    });
    child.once("exit", (code) => reject(new Error(`mock hub exited with ${code}`)));
  });
  return { url, child };
}

/** An S3 that accepts every part and keeps none of it. */
function droppingS3(): S3Client {
  const s3 = new S3Client({ region: "us-east-1", credentials: { accessKeyId: "a", secretAccessKey: "b" } });
  const mock = mockClient(s3);
  mock.on(CreateMultipartUploadCommand).resolves({ UploadId: "bench" });
  mock.on(UploadPartCommand).callsFake(async (input) => ({ ETag: `"${input.PartNumber}"` }));
  mock.on(CompleteMultipartUploadCommand).resolves({ ETag: '"done"' });
  mock.on(AbortMultipartUploadCommand).resolves({});
  return s3;
}

function hubOf(url: string) {
  return {
    async openDownload(id: string, options: { offset?: number } = {}) {
      const offset = options.offset ?? 0;
      const res = await new Promise<IncomingMessage>((resolve, reject) =>
        get(
          `${url}/dhus/odata/v1/Products('${id}')/$value`,
          { headers: offset > 0 ? { range: `bytes=${offset}-` } : {} },
          resolve,
        ).once("error", reject),
      );
      return { body: res, offset, contentLength: Number(res.headers["content-length"]) };
    },
  };
}

export async function benchZipCheck(options: {
  sizeBytes: number;
  reps: number;
  log: (line: string) => void;
}): Promise<ZipCheckResult> {
  const { sizeBytes, reps, log } = options;
  const catalogue = createCatalogue({ seed: SEED, days: [DAY], granulesPerDay: 1, sizeBytes });
  const product = catalogue.products[0]!;
  const folder = `${product.name}.SAFE`;
  const result: ZipCheckResult = { sizeBytes, md5CpuPerGiB: [], md5AndZipCpuPerGiB: [], transfer: [] };
  {
    const bytes = catalogue.bytes(product.id);
    for (let rep = 0; rep < reps; rep += 1) {
      result.md5CpuPerGiB.push(await hashOnce(bytes, false, folder));
      result.md5AndZipCpuPerGiB.push(await hashOnce(bytes, true, folder));
      log(
        `hashing #${rep + 1}: MD5 ${result.md5CpuPerGiB.at(-1)!.toFixed(2)} CPU s/GiB, MD5 + zip check ${result.md5AndZipCpuPerGiB.at(-1)!.toFixed(2)}`,
      );
    }
  }
  const { url, child } = await startHub(sizeBytes);
  try {
    const md5 = catalogue.expectedMd5(product.id);
    const hub = hubOf(url);
    for (let rep = 0; rep < reps; rep += 1) {
      for (const check of [false, true]) {
        const began = Date.now();
        const cpu = process.cpuUsage();
        await transferGranule(
          {
            granuleId: product.id,
            bucket: "bench",
            key: `bench/${product.name}.zip`,
            expectedMd5: md5,
            hub,
            s3: droppingS3(),
            expectedSizeBytes: sizeBytes,
            sizeToleranceBytes: 0,
            ...(check && { archive: { safeFolder: folder } }),
          },
          { partSizeBytes: PART },
        );
        const run = { check, seconds: (Date.now() - began) / 1000, cpuSeconds: cpuSeconds(cpu) };
        result.transfer.push(run);
        log(
          `transfer ${sizeBytes / MiB} MiB, check ${check ? "on" : "off"} #${rep + 1}: ${run.seconds.toFixed(2)} s, ${run.cpuSeconds.toFixed(2)} CPU s`,
        );
      }
    }
  } finally {
    child.kill("SIGTERM");
  }
  return result;
}

export function zipCheckRows(result: ZipCheckResult): Row[] {
  const md5 = median(result.md5CpuPerGiB);
  const both = median(result.md5AndZipCpuPerGiB);
  const cpu = (check: boolean) =>
    median(result.transfer.filter((r) => r.check === check).map((r) => r.cpuSeconds));
  const wall = (check: boolean) =>
    median(result.transfer.filter((r) => r.check === check).map((r) => r.seconds));
  const perGiB = (seconds: number) => (seconds * GiB) / result.sizeBytes;
  const added = (cpu(true) - cpu(false)) / cpu(false);
  const own = (both - md5) / perGiB(cpu(false));
  const signed = (share: number) => `${share >= 0 ? "+" : ""}${(share * 100).toFixed(1)} %`;
  const size = `${result.sizeBytes / MiB} MiB`;
  return [
    {
      benchmark: "zip-check",
      case: `hashing ${size}`,
      metric: "MD5 alone, CPU s/GiB",
      value: md5.toFixed(2),
    },
    {
      benchmark: "zip-check",
      case: `hashing ${size}`,
      metric: "MD5 + zip check, CPU s/GiB",
      value: `${both.toFixed(2)} (×${(both / md5).toFixed(2)})`,
    },
    {
      benchmark: "zip-check",
      case: `transfer ${size}`,
      metric: "check off: CPU s/GiB, wall s",
      value: `${perGiB(cpu(false)).toFixed(2)}, ${wall(false).toFixed(2)}`,
    },
    {
      benchmark: "zip-check",
      case: `transfer ${size}`,
      metric: "check on: CPU s/GiB, wall s",
      value: `${perGiB(cpu(true)).toFixed(2)}, ${wall(true).toFixed(2)} (CPU ${signed(added)})`,
    },
    {
      benchmark: "zip-check",
      case: `transfer ${size}`,
      // The hashing delta is measured alone, free of the transfer's noise on a loaded machine.
      metric: "check's own CPU / transfer CPU",
      value: signed(own),
      goal: "≤ +10 %",
      met: own <= 0.1 && added <= 0.1,
    },
  ];
}
