/**
 * Each Lambda function's memory and timeout: the one place they are set. Lambda bills memory × time and
 * gives CPU in proportion to memory (1,769 MB = one vCPU). The rule: the smallest multiple of 64 MB
 * (128 MB at least, Lambda's floor) that keeps the function's measured peak RSS within two thirds of
 * it; the hub-bound Download gets the size whose CPU share still keeps up with the hub. Peaks measured
 * by `npx tsx bench/lambda.ts` (each handler bundled alone, in its own process, over a day of 13,000
 * granules; figures in docs/benchmarks.md). A new function follows the same rule with its own figure.
 */
export const FUNCTION_SIZES = {
  // 68 MiB: the runtime and the bundle; nothing grows with the day.
  GenerateQueries: { memoryMb: 128, timeoutSeconds: 60 },
  // 180–191 MiB paging 1,000-entry CDSE pages with HLS's 18,952-tile allow-list (152 at 2,000 granules).
  FetchPage: { memoryMb: 320, timeoutSeconds: 900 },
  // 124–128 MiB at 13,000 pending granules, 90 at 2,000: ~3.5 KiB per pending granule, so 512 MB holds a
  // backlog of ~70,000 (five such days) within two thirds; once per execution, its cost is nil either way.
  WriteManifest: { memoryMb: 512, timeoutSeconds: 300 },
  // 246–256 MiB over a 1 GiB product with 64 MiB parts × queue 1 (settings.ts keeps the buffers within
  // half), taking the hub's 20 MB/s in a cgroup of 0.289 vCPU at ~10 ms of CPU per MB (bench/lambda.ts).
  Download: { memoryMb: 512, timeoutSeconds: 900 },
  // 114–120 MiB at 13,000 granules, 90 at 2,000 (~2.2 KiB each): 384 MB holds ~75,000 within two thirds.
  Summarize: { memoryMb: 384, timeoutSeconds: 300 },
  // 86 MiB over 50 pushes: one product per call.
  ReceivePush: { memoryMb: 192, timeoutSeconds: 30 },
  // 72 MiB: one query and at most one StartExecution per call.
  StartPushedDownloads: { memoryMb: 128, timeoutSeconds: 30 },
} as const satisfies Record<string, { memoryMb: number; timeoutSeconds: number }>;

export type SizedFunction = keyof typeof FUNCTION_SIZES;

/** A function's measured peak RSS may take at most this share of its memory. */
export const PEAK_RSS_SHARE = 2 / 3;

/** Every function runs on arm64 (Graviton): 20% less per GB-second than x86 at Lambda's list prices. */
export const FUNCTION_ARCHITECTURE = "arm_64";
