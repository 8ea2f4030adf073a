/**
 * A Lambda container on this machine: one handler bundled alone (esbuild, one ESM file, as SST bundles a
 * function), run by plain node in its own process, optionally inside a cgroup (v1) holding the CPU share
 * and the memory of a Lambda size. Lambda gives CPU in proportion to memory, 1,769 MB = one vCPU.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Child } from "./lib";

const REPOSITORY = fileURLToPath(new URL("..", import.meta.url));
const CHILD_ENTRY = fileURLToPath(new URL("./lambda-child.ts", import.meta.url));
const CGROUP_ROOT = "/sys/fs/cgroup";
/** Lambda: "At 1,769 MB, a function has the equivalent of one vCPU". */
export const MB_PER_VCPU = 1769;
const CFS_PERIOD_US = 100_000;

/** Bundles packages/functions/src/<file>.ts with the IPC server of lambda-child.ts into `<outDir>/<file>.mjs`. */
export async function bundleHandler(file: string, outDir: string): Promise<string> {
  const { build } = await import("esbuild");
  const outfile = join(outDir, `${file}.mjs`);
  await build({
    stdin: {
      contents: [
        `import { handler } from ${JSON.stringify(join(REPOSITORY, "packages/functions/src", `${file}.ts`))};`,
        `import { serveHandler } from ${JSON.stringify(CHILD_ENTRY)};`,
        "serveHandler(handler);",
      ].join("\n"),
      resolveDir: REPOSITORY,
      loader: "ts",
    },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    logLevel: "error",
    // What SST adds to an ESM bundle so CommonJS dependencies can still require().
    banner: {
      js: "import { createRequire as topLevelCreateRequire } from 'module'; const require = topLevelCreateRequire(import.meta.url);",
    },
  });
  return outfile;
}

/** A cgroup v1 pair (cpu, memory) sized like a Lambda function of `memoryMb`. */
export class LambdaCgroup {
  readonly cpuDir: string;
  readonly memoryDir: string;

  constructor(readonly memoryMb: number) {
    const name = `hls-s2-lambda-${memoryMb}-${process.pid}`;
    this.cpuDir = join(CGROUP_ROOT, "cpu", name);
    this.memoryDir = join(CGROUP_ROOT, "memory", name);
  }

  /** The CPU share of a core this size gets. */
  get cpuShare(): number {
    return this.memoryMb / MB_PER_VCPU;
  }

  /** @throws when cgroup v1 is not mounted or not writable (not root). */
  create(): void {
    if (!existsSync(join(CGROUP_ROOT, "cpu")) || !existsSync(join(CGROUP_ROOT, "memory")))
      throw new Error(`no cgroup v1 cpu and memory hierarchies under ${CGROUP_ROOT}`);
    mkdirSync(this.cpuDir, { recursive: true });
    mkdirSync(this.memoryDir, { recursive: true });
    writeFileSync(join(this.cpuDir, "cpu.cfs_period_us"), String(CFS_PERIOD_US));
    writeFileSync(join(this.cpuDir, "cpu.cfs_quota_us"), String(Math.round(CFS_PERIOD_US * this.cpuShare)));
    writeFileSync(join(this.memoryDir, "memory.limit_in_bytes"), String(this.memoryMb * 1024 * 1024));
  }

  /** What the kernel counted: peak memory (RSS and page cache), limit hits, CPU throttling. */
  stats(): { maxUsageBytes: number; failcnt: number; throttledPeriods: number; throttledSeconds: number } {
    const read = (dir: string, file: string) => readFileSync(join(dir, file), "utf8");
    const cpu = Object.fromEntries(
      read(this.cpuDir, "cpu.stat")
        .trim()
        .split("\n")
        .map((line) => line.split(" ") as [string, string]),
    );
    return {
      maxUsageBytes: Number(read(this.memoryDir, "memory.max_usage_in_bytes")),
      failcnt: Number(read(this.memoryDir, "memory.failcnt")),
      throttledPeriods: Number(cpu["nr_throttled"] ?? 0),
      throttledSeconds: Number(cpu["throttled_time"] ?? 0) / 1e9,
    };
  }

  /** Removes both directories once their tasks are gone (a leftover one is harmless). */
  remove(): void {
    for (const dir of [this.cpuDir, this.memoryDir]) {
      try {
        rmdirSync(dir);
      } catch {
        // Still busy or already gone.
      }
    }
  }
}

/**
 * Starts a bundled handler as a Lambda container: plain node (no tsx: its compiler would count in the
 * peak), the function's environment, inside `cgroup` when given (the shell joins it, then execs node,
 * so only the handler's process is confined; the hub and the stores stay outside).
 */
export function startContainer(bundle: string, env: Record<string, string>, cgroup?: LambdaCgroup): Child {
  const node = JSON.stringify(process.execPath);
  const script = JSON.stringify(bundle);
  const command =
    cgroup === undefined
      ? `exec ${node} ${script}`
      : `echo $$ > ${cgroup.cpuDir}/tasks && echo $$ > ${cgroup.memoryDir}/tasks && exec ${node} ${script}`;
  const child = spawn("sh", ["-c", command], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
    // NODE_NO_WARNINGS: the SDK's Node 20 support notice, once per container, would drown the table.
    env: { PATH: process.env["PATH"] ?? "", NODE_NO_WARNINGS: "1", ...env },
  });
  return new Child(bundle, [], { process: child });
}
