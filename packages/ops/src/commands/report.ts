import type { S3Client } from "@aws-sdk/client-s3";
import { FILTER_REASONS, isValidDay, yesterdayOf } from "@hls-s2/core/domain";
import { InvalidInputError } from "@hls-s2/core/errors";
import { type DayReport, type Equation, reportDay, type TallyStore } from "@hls-s2/core/usecases";

export interface ReportDeps {
  store: TallyStore;
  /** The stage's (or data folder's) work bucket, where Summarize writes the delivery manifests. */
  workBucket: { s3: S3Client; bucket: string };
  today?: Date;
}

/**
 * The completeness of one publication day (default yesterday, UTC), per platform: core's reportDay.
 * @throws InvalidInputError on a bad day.
 */
export async function report(input: { day?: string }, deps: ReportDeps): Promise<DayReport> {
  const today = deps.today ?? new Date();
  const day = input.day ?? yesterdayOf(today);
  if (!isValidDay(day)) {
    throw new InvalidInputError(`--day must be a real YYYY-MM-DD day, got ${day}`, { field: "day" });
  }
  return reportDay(day, { store: deps.store, ...deps.workBucket }, { now: today });
}

function verdict(equation: Equation): string {
  return equation.holds ? "holds" : `DOES NOT HOLD: ${equation.reason}`;
}

/** The report as an operator hands it on: the two equations, the hub's count, duplicates, withdrawn, the manifest. */
export function formatReport(result: DayReport, label: string): string {
  const { totals } = result;
  const lines = [
    `Completeness of ${result.day} (${label})${result.closed ? "" : ": the day is not over yet"}`,
    `  found ${totals.found} = filtered ${totals.filtered} + recorded ${totals.recorded}; the hub lists ${totals.hubCount ?? "?"} after the day closed${totals.withdrawn > 0 ? `, ${totals.withdrawn} withdrawn since` : ""}: ${verdict(result.found)}`,
    `  recorded ${totals.recorded} = delivered ${totals.delivered} + failed ${totals.failed} + pending ${totals.pending} + duplicates ${totals.duplicates}${totals.missing > 0 ? ` (+ ${totals.missing} missing from the index)` : ""}: ${verdict(result.recorded)}`,
    "",
    "  platform   hub  found  filtered  recorded  delivered  failed  pending  dup  withdrawn",
  ];
  for (const row of result.platforms) {
    lines.push(
      `  ${row.platform.padEnd(8)} ${String(row.hubCount ?? "?").padStart(5)} ${String(row.found).padStart(6)} ${String(row.filtered).padStart(9)} ${String(row.recorded).padStart(9)} ${String(row.delivered).padStart(10)} ${String(row.failed).padStart(7)} ${String(row.pending).padStart(8)} ${String(row.duplicates).padStart(4)} ${String(row.withdrawn).padStart(10)}`,
    );
    const reasons = FILTER_REASONS.filter((reason) => row.filteredBy[reason] > 0).map(
      (reason) => `${reason} ${row.filteredBy[reason]}`,
    );
    if (reasons.length > 0) lines.push(`           filtered by ${reasons.join(", ")}`);
    if (row.hubCountAt !== undefined) lines.push(`           hub asked ${row.hubCountAt}`);
  }
  if (result.platforms.length === 0) lines.push("  (nothing recorded, filtered or searched for this day)");
  lines.push("");
  for (const duplicate of result.duplicates) {
    lines.push(`  duplicate ${duplicate.name} (${duplicate.granuleId}) of ${duplicate.duplicateOf}`);
  }
  for (const gone of result.withdrawn) {
    lines.push(`  withdrawn ${gone.name} (${gone.granuleId}, ${gone.platform})`);
  }
  const { manifest } = result;
  lines.push(
    manifest.lines === undefined
      ? `  delivery manifest ${manifest.uri}: not written yet (the first run ending after the day writes it)`
      : `  delivery manifest ${manifest.uri}: ${manifest.lines} lines, ${manifest.matchesDelivered ? "exactly the delivered objects" : "NOT the delivered objects: the next daily run rewrites it"}`,
  );
  return lines.join("\n");
}
