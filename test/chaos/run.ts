/**
 * `npm run chaos`: the chaos run of docs/chaos.md. Options: --granules N (per day, default 340),
 * --days N (default 3), --seed S, --push-every MINUTES (default 5), --dynamo dynalite|auto,
 * --noon-pushes-only (no 06:00/18:00 push runs: the short form's timetable), --page-size N (search
 * page size, default 10), --data-dir DIR (new or empty, refused otherwise; kept afterwards; default a
 * temporary folder), --json.
 * Exits 1 when an invariant broke.
 */
import "../setup/polyfills";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { formatInvariantReport } from "@hls-s2/testing/invariants";
import { runChaos } from "./scenario";

const { values } = parseArgs({
  options: {
    granules: { type: "string" },
    days: { type: "string" },
    seed: { type: "string" },
    "push-every": { type: "string" },
    dynamo: { type: "string" },
    json: { type: "boolean" },
    "noon-pushes-only": { type: "boolean" },
    "data-dir": { type: "string" },
    "page-size": { type: "string" },
  },
});
const dynamo = values.dynamo ?? "dynalite";
if (dynamo !== "dynalite" && dynamo !== "auto") throw new RangeError("--dynamo must be dynalite or auto");
// A given folder is kept afterwards (to read its execution records); a temporary one is removed.
const dataDir = values["data-dir"] ?? (await mkdtemp(join(tmpdir(), "hls-s2-chaos-")));
try {
  const result = await runChaos({
    dataDir,
    days: Number(values.days ?? 3),
    granulesPerDay: Number(values.granules ?? 340),
    seed: values.seed ?? "chaos",
    pushEveryMinutes: Number(values["push-every"] ?? 5),
    dynamo,
    morningAndEveningPushes: values["noon-pushes-only"] !== true,
    searchPageSize: Number(values["page-size"] ?? 10),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  if (values.json === true) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    process.stdout.write(
      `granules published ${result.granules}, ${result.phases.length} phases, ${result.wallSeconds.toFixed(0)} s\n`,
    );
    process.stdout.write(`injected ${JSON.stringify(result.injected)}\n`);
    process.stdout.write(`${formatInvariantReport(result.report)}\n`);
  }
  process.exitCode = result.report.broken.length === 0 ? 0 : 1;
} finally {
  if (values["data-dir"] === undefined) await rm(dataDir, { recursive: true, force: true });
}
