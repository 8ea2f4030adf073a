import { formatBytes, formatLatencyLines, type GranuleTally, TALLY_COUNT_KEYS } from "@hls-s2/core/domain";
import type { LocalRunSummary } from "./summary";

function failureText(failures: Record<string, number>): string {
  return Object.entries(failures)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, count]) => `${name}×${count}`)
    .join(", ");
}

function row(cells: string[], widths: number[]): string {
  return (
    cells
      // Names left, numbers right; the two trailing columns (failures, filtered by) are text.
      .map((cell, i) =>
        i < 2 || i >= cells.length - 2 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0),
      )
      .join("  ")
      .trimEnd()
  );
}

// The local summary shows every count of core's tally but "stuck" (ops status shows that one).
const COUNT_KEYS = TALLY_COUNT_KEYS.filter((key) => key !== "stuck");

function countCells(label: [string, string], counts: GranuleTally): string[] {
  return [
    ...label,
    ...COUNT_KEYS.map((key) => (key === "bytes" ? formatBytes(counts.bytes) : String(counts[key]))),
    failureText(counts.failures),
    failureText(Object.fromEntries(Object.entries(counts.filteredBy).filter(([, n]) => n > 0))),
  ];
}

/** The command that redrives the newest FAILED execution of a data folder. */
export function redriveCommand(dataDir: string): string {
  return `npm run ops -- redrive --local ${dataDir}`;
}

/** The human summary printed at the end of `npm run local`: per day and platform, this run, throughput. */
export function formatSummary(summary: LocalRunSummary): string {
  const lines: string[] = [];
  const hub = summary.hub.mock
    ? `mock ${summary.hub.kind.toUpperCase()} hub at ${summary.hub.url}`
    : `${summary.hub.kind.toUpperCase()} hub at ${summary.hub.url}`;
  const window = summary.from === summary.to ? summary.from : `${summary.from} … ${summary.to}`;
  const redriven = summary.redriveCount > 0 ? ` (redrive ${summary.redriveCount})` : "";
  lines.push(
    `Local run ${summary.executionName}${redriven}: ${window}, ${summary.platforms.join(",")}, ${hub}, ${summary.store.dynamo}, ${summary.status}`,
  );
  lines.push("");

  const header = ["day", "platform", ...COUNT_KEYS, "failures", "filtered by"];
  const body: string[][] = [];
  for (const day of summary.days) {
    if (day.platforms.length === 0) body.push(countCells([day.day, "-"], day));
    for (const platform of day.platforms) body.push(countCells([day.day, platform.platform], platform));
  }
  const total = countCells(["total", ""], summary.totals);
  const widths = header.map((cell, i) =>
    Math.max(cell.length, ...[...body, total].map((r) => (r[i] ?? "").length)),
  );
  lines.push(row(header, widths));
  for (const cells of body) lines.push(row(cells, widths));
  lines.push(row(total, widths));
  lines.push("found = filtered + recorded; recorded = downloaded + failed + pending + missing");
  if (summary.totals.duplicates > 0) {
    lines.push(
      `Duplicates: ${summary.totals.duplicates} recorded granule(s) share a product name with another id, which holds the object key (never downloaded; in recorded, beside the sum above).`,
    );
  }
  if (summary.totals.missing > 0) {
    lines.push(
      `Warning: ${summary.totals.missing} recorded granule(s) are missing from the status index; WriteManifest refuses to list such a day.`,
    );
  }
  lines.push("", ...formatLatencyLines(summary.latency), "");

  const run = summary.run;
  if (summary.releasedLeases.length > 0) {
    const resumable = summary.releasedLeases.filter((lease) => lease.resumableBytes > 0).length;
    lines.push(
      `Released ${summary.releasedLeases.length} lease(s) a killed run left behind (${resumable} with a saved upload to resume).`,
    );
  }
  if (summary.nothingToDownload) {
    const earlier =
      summary.totals.failed === 0
        ? ""
        : `; ${summary.totals.failed} failed in earlier runs (${failureText(summary.totals.failures)}), not retried: \`npm run ops -- requeue --local DIR --day D\` brings them back`;
    lines.push(`Nothing to download, ${summary.totals.downloaded} granules already downloaded${earlier}.`);
  } else {
    const failed = run.failed === 0 ? "0 failed" : `${run.failed} failed (${failureText(run.failures)})`;
    const extras = [
      run.alreadyDownloaded > 0 ? `${run.alreadyDownloaded} already downloaded` : "",
      run.leasedElsewhere > 0 ? `${run.leasedElsewhere} leased elsewhere` : "",
      run.retries > 0 ? `${run.retries} ${run.retries === 1 ? "retry" : "retries"}` : "",
    ].filter((text) => text !== "");
    lines.push(
      `This run: ${run.manifest} to download, ${run.downloaded} downloaded (${formatBytes(run.bytes)}), ${failed}` +
        (extras.length > 0 ? `, ${extras.join(", ")}` : "") +
        ".",
    );
  }
  const throughput = run.bytes > 0 ? `, ${run.mbPerSecond.toFixed(1)} MB/s while downloading` : "";
  lines.push(`Wall time ${run.wallSeconds.toFixed(1)} s${throughput}.`);
  if (summary.mapRun !== undefined && summary.mapRun.resultWriterDetails !== undefined) {
    const { Bucket, Key } = summary.mapRun.resultWriterDetails;
    lines.push(`Map Run results: s3://${Bucket}/${Key} (embedded S3).`);
  }
  for (const query of summary.failedQueries) {
    lines.push(
      `Search ${query.day} ${query.platform} FAILED: ${query.error}: ${query.cause} (its granules are not listed; run the day again once fixed).`,
    );
  }
  if (summary.status === "FAILED" && summary.error !== undefined) {
    const map = summary.mapRun;
    const counts =
      map === undefined ? "" : ` (${map.succeeded} succeeded, ${map.failed} failed, ${map.pending} not run)`;
    lines.push(
      `Execution FAILED in ${summary.error.state}: ${summary.error.name}: ${summary.error.message}${counts}.`,
    );
    lines.push(`Redrive it once the cause is fixed: ${redriveCommand(summary.dataDir)}`);
  }
  lines.push(`Data: ${summary.dataDir}`);
  return lines.join("\n");
}
