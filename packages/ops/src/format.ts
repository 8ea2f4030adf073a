import { formatBytes, formatLatencyLines, type GranuleTally, TALLY_COUNT_KEYS } from "@hls-s2/core/domain";
import type { UnfinishedAge } from "@hls-s2/core/usecases";
import type { BackfillResult } from "./commands/backfill";
import type { RedriveResult } from "./commands/redrive";
import type { RequeueResult } from "./commands/requeue";
import { formatSlots } from "./commands/slots";
import type { StatusReport, WaitingGranules } from "./commands/status";
import type { ExecutionRow, Launched } from "./executions";

/** A plain-text table: a header row, a rule, and columns padded to their widest cell (numbers right-aligned). */
export function formatTable(headers: string[], rows: (string | number)[][]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => String(row[i] ?? "").length)),
  );
  const line = (cells: (string | number)[]) =>
    cells
      .map((cell, i) =>
        typeof cell === "number" ? String(cell).padStart(widths[i]!) : String(cell).padEnd(widths[i]!),
      )
      .join("  ")
      .trimEnd();
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

function failuresText(failures: Record<string, number>): string {
  const entries = Object.entries(failures).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return entries.length === 0 ? "" : entries.map(([name, n]) => `${name}×${n}`).join(" ");
}

function countCells(counts: GranuleTally): (string | number)[] {
  return [
    ...TALLY_COUNT_KEYS.map((key) => (key === "bytes" ? formatBytes(counts.bytes) : counts[key])),
    failuresText(counts.failures),
    failuresText(Object.fromEntries(Object.entries(counts.filteredBy).filter(([, n]) => n > 0))),
  ];
}

export function formatStatus(report: StatusReport, label: string): string {
  const rows: (string | number)[][] = [];
  for (const day of report.days) {
    for (const p of day.platforms) {
      const hub = p.available === undefined ? "-" : `${p.available}${p.searchFinished ? "" : "+"}`;
      rows.push([day.day, p.platform, hub, ...countCells(p)]);
    }
    if (day.platforms.length === 0) rows.push([day.day, "-", "-", ...countCells(day)]);
    else if (day.platforms.length > 1) rows.push([day.day, "all", "", ...countCells(day)]);
  }
  if (report.days.length > 1) rows.push(["total", "", "", ...countCells(report.totals)]);
  const headers = ["day", "platform", "hub", ...TALLY_COUNT_KEYS, "failures", "filtered by"];
  const parts = [
    `Granules ${report.from}..${report.to} — ${label}`,
    formatTable(headers, rows),
    "hub: results the hub reported (+ = search not finished); found = filtered + recorded; " +
      "recorded = downloaded + failed + pending + missing",
    "stuck: DOWNLOADING with an expired lease; missing: recorded but not in the status index (WriteManifest fails on it)",
  ];
  if (report.totals.duplicates > 0) {
    parts.push(
      `duplicates: ${report.totals.duplicates} (another hub id of the same product name holds the object key; never downloaded, counted in recorded)`,
      ...report.totals.duplicateIds.map(
        ({ granuleId, duplicateOf }) => `  ${granuleId} duplicates ${duplicateOf}`,
      ),
    );
  }
  parts.push("", ...formatLatencyLines(report.latency));
  parts.push("", formatExecutions(report.executions));
  parts.push(
    "",
    formatWaiting(report.waiting, report.slots === undefined ? undefined : report.slots.held.length),
  );
  if (report.slots !== undefined) parts.push(formatSlots(report.slots));
  parts.push(formatUnfinishedAge(report.unfinishedAge));
  return parts.join("\n");
}

/** The age safety net: what the UnfinishedGranulesOld alarm fires on, and the oldest granule to look at. */
export function formatUnfinishedAge(age: UnfinishedAge): string {
  const oldest =
    age.oldest === undefined
      ? ""
      : `; oldest ${age.oldest.granuleId} (${age.oldest.status}, published ${age.oldest.publishedAt}, ${(age.oldestAgeSeconds / 3600).toFixed(1)} h ago)`;
  return (
    `Unfinished ${age.from}..${age.to}: ${age.unfinished} granule(s), ${age.olderThanThreshold} ` +
    `older than ${age.thresholdHours} h (the age alarm fires above 0)${oldest}`
  );
}

/** The window's download queue: granules waiting, granules downloading now (and the slots they hold). */
export function formatWaiting(waiting: WaitingGranules, slotsHeld?: number): string {
  const held = slotsHeld === undefined ? "" : `, ${slotsHeld} hub slot(s) held across every execution`;
  return (
    `Waiting for a download: ${waiting.total} granule(s) (DISCOVERED ${waiting.discovered}, stuck DOWNLOADING ${waiting.stuck}); ` +
    `downloading now: ${waiting.downloading}${held}`
  );
}

export function formatExecutions(executions: ExecutionRow[] | null): string {
  if (executions === null) return "executions: n/a locally (each local run is one process; see its summary)";
  if (executions.length === 0) return "executions: none yet";
  return `Latest executions\n${formatTable(
    ["name", "status", "started", "stopped", "redrives"],
    executions.map((e) => [e.name, e.status, e.startDate ?? "", e.stopDate ?? "", e.redriveCount ?? 0]),
  )}`;
}

export function formatLaunched(execution: Launched): string {
  if (execution.mode === "aws") {
    return `started ${execution.executionName}\n  arn:     ${execution.executionArn}\n  console: ${execution.consoleUrl}`;
  }
  const s = execution.summary;
  return [
    `local run ${execution.executionName} finished: ${s.from}..${s.to}`,
    `  downloaded ${s.run.downloaded} (${formatBytes(s.run.bytes)}), already there ${s.run.alreadyDownloaded}, failed ${s.run.failed}${
      s.run.failed > 0 ? ` (${failuresText(s.run.failures)})` : ""
    }`,
    `  table now: found ${s.totals.found}, downloaded ${s.totals.downloaded}, failed ${s.totals.failed}, pending ${s.totals.pending}`,
  ].join("\n");
}

export function formatBackfill(result: BackfillResult): string {
  return `backfill ${JSON.stringify(result.input)}\n${formatLaunched(result.execution)}`;
}

export function formatRedrive(result: RedriveResult): string {
  const lines: string[] = [];
  for (const r of result.redriven) lines.push(`redrove ${r.name} (was ${r.status})  ${r.executionArn}`);
  for (const s of result.skipped) lines.push(`skipped ${s.name}: ${s.reason}`);
  if (lines.length === 0) lines.push("no execution covers that day: nothing to redrive");
  return lines.join("\n");
}

export function formatRequeue(result: RequeueResult): string {
  const rows = result.candidates.map((c) => [
    c.granuleId,
    c.name,
    c.status,
    c.attempts,
    c.status === "FAILED"
      ? `${c.lastError?.name ?? "Unknown"}: ${c.lastError?.message ?? ""}`
      : `lease expired ${c.leaseExpiredAt}`,
  ]);
  const lines = [
    result.candidates.length === 0
      ? `${result.day}: no FAILED or stuck DOWNLOADING granules`
      : formatTable(["granule", "name", "status", "attempts", "why"], rows),
  ];
  for (const h of result.held) lines.push(`held ${h.granuleId} (UploadOutcomeUnknownError): ${h.advice}`);
  if (result.dryRun) {
    if (result.candidates.length > 0)
      lines.push(`dry run: ${result.candidates.length} granule(s) would be requeued; nothing changed`);
    return lines.join("\n");
  }
  lines.push(`requeued ${result.requeued.length} granule(s) to DISCOVERED`);
  for (const s of result.skipped) lines.push(`skipped ${s.granuleId}: now ${s.status}`);
  if (result.execution !== undefined) lines.push(formatLaunched(result.execution));
  else if (result.candidates.length > 0) lines.push("nothing requeued: no execution started");
  return lines.join("\n");
}
