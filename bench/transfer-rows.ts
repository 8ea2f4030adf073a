import { formatBytes } from "@hls-s2/core/domain";
import { GiB, MiB, median, type Row } from "./lib";
import type { HubLimitedResult, VariantResult } from "./transfer";
import { VARIANTS, type Variant } from "./transfer-variants";

// The transfer benchmark's table: each variant's throughput and peak RSS, against the goals.

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
