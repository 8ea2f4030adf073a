import "./quiet";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { PLATFORMS, type Platform, parseSize } from "@hls-s2/core/domain";
import { DownloaderError, InvalidInputError } from "@hls-s2/core/errors";
import { DataFolderInUseError } from "../errors";
import { FAULT_PROFILE_NAMES, type FaultProfileName, type RunLocalOptions } from "./options";
import { createProgressReporter } from "./progress";
import { formatSummary, redriveCommand } from "./report";
import { runLocal } from "./runner";
import type { LocalRunSummary } from "./summary";

const DYNAMO_STAND_INS = ["auto", "dynamodb-local", "dynalite"] as const;
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
export const DEFAULT_DATA_DIR = resolve(REPO_ROOT, ".local-data");

/**
 * Exit codes: 0 nothing new failed (earlier failures are still listed), 1 granules failed in this
 * run within the Map's tolerance (or recorded granules are missing from the index), 2 bad flags, 3 the
 * run could not start (data folder in use) or itself failed (a step outside the Map), 4 the execution
 * FAILED because its Map Run exceeded the tolerated failures (redrive it).
 */
export const EXIT = { ok: 0, granulesFailed: 1, usage: 2, runFailed: 3, executionFailed: 4 } as const;

/**
 * A run's exit code from its summary. Failures of earlier runs stay listed in the summary but do not
 * fail a rerun that had nothing new to do: a terminal failure is not retried, so it would otherwise
 * fail every run after it until an operator requeues it.
 */
export function exitCodeFor(summary: Pick<LocalRunSummary, "run" | "totals" | "status">): number {
  if (summary.status === "FAILED") return EXIT.executionFailed;
  return summary.run.failed > 0 || summary.totals.missing > 0 ? EXIT.granulesFailed : EXIT.ok;
}

export const USAGE = `Usage: npm run local -- [options]

Runs the daily job on this machine: the synthesized state machine, the real handlers, a mock hub,
an embedded DynamoDB and S3, all on 127.0.0.1. With no options: yesterday, 3 platforms, 30 granules.

  --data-dir DIR        where the table, buckets and catalogue persist (default .local-data/)
  --clean               start from an empty table and buckets
  --day YYYY-MM-DD      one publication day (default yesterday, UTC)
  --from D --to D       a backfill window (at most 31 days)
  --platforms LIST      comma-separated, of ${PLATFORMS.join(",")} (default all)
  --download-only       skip the search; download what the table already holds
  --granules N          mock catalogue: granules per day (default 30, kept for reruns)
  --size SIZE           mock catalogue: product size, e.g. 4MiB or 2MiB-8MiB (default 2MiB-8MiB)
  --seed S              mock catalogue seed (kept for reruns)
  --concurrency N       Distributed Map MaxConcurrency (default 15)
  --hub-slots N         hub downloads at once across every execution on this folder (HUB_DOWNLOAD_SLOTS,
                        default 15); \`npm run ops -- slots --local DIR N\` overrides it in the table
  --max-downloads N     the mock hub answers 429 beyond N concurrent downloads (default unlimited)
  --faults PROFILE      mock hub faults: ${FAULT_PROFILE_NAMES.join("|")} (default none)
  --hub dhus|cdse       hub API family (default dhus); with --hub-url, an external hub instead of the mock
  --hub-url URL         external hub base URL; credentials from HUB_USERNAME / HUB_PASSWORD
  --token-url URL       CDSE token endpoint of the external hub (default <hub-url>/auth/realms/CDSE/…)
  --download-url URL    download host of the external hub (CDSE zipper, IntHub2; CDSE default <hub-url>)
  --all-tiles           record every tile, not only HLS's 18,952 (config/hls-tiles.txt, the default)
  --dynamo STAND-IN     auto|dynamodb-local|dynalite: the DynamoDB stand-in (default auto: DynamoDB
                        Local when a JDK runs, dynalite for a folder holding only a dynalite table)
  --json                print the summary as JSON on stdout
  --verbose             show the handlers' structured logs
  --live …              a time-compressed live day of the continuous mode (\`--live --help\`)
  -h, --help            this text

Exit codes: 0 every granule downloaded, 1 some granules FAILED, 2 bad flags, 3 the run could not
start (e.g. "data folder … in use by PID N": another run holds --data-dir) or itself failed.`;

function positiveInteger(flag: string, text: string | undefined, min = 1): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min) {
    throw new InvalidInputError(`--${flag} must be an integer ≥ ${min}, got ${text}`, { field: flag });
  }
  return Number(text);
}

export interface ParsedCli {
  help: boolean;
  json: boolean;
  verbose: boolean;
  options: RunLocalOptions;
}

/**
 * Turns argv and the environment into runLocal options; credentials come only from the environment.
 * @throws InvalidInputError naming the bad flag.
 */
export function parseCli(
  argv: string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): ParsedCli {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        "data-dir": { type: "string" },
        clean: { type: "boolean" },
        "download-only": { type: "boolean" },
        day: { type: "string" },
        from: { type: "string" },
        to: { type: "string" },
        platforms: { type: "string" },
        granules: { type: "string" },
        size: { type: "string" },
        seed: { type: "string" },
        concurrency: { type: "string" },
        "hub-slots": { type: "string" },
        "max-downloads": { type: "string" },
        faults: { type: "string" },
        hub: { type: "string" },
        "hub-url": { type: "string" },
        "token-url": { type: "string" },
        "download-url": { type: "string" },
        "all-tiles": { type: "boolean" },
        dynamo: { type: "string" },
        json: { type: "boolean" },
        verbose: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    throw new InvalidInputError((error as Error).message, { cause: error });
  }
  const text = (name: string) => values[name] as string | undefined;
  const options: RunLocalOptions = { dataDir: resolve(text("data-dir") ?? DEFAULT_DATA_DIR) };
  if (values["clean"] === true) options.clean = true;
  if (values["download-only"] === true) options.downloadOnly = true;
  if (values["all-tiles"] === true) options.allTiles = true;
  const dynamo = text("dynamo");
  if (dynamo !== undefined) {
    if (!(DYNAMO_STAND_INS as readonly string[]).includes(dynamo)) {
      throw new InvalidInputError(`--dynamo must be one of ${DYNAMO_STAND_INS.join(", ")}, got ${dynamo}`, {
        field: "dynamo",
      });
    }
    options.dynamo = dynamo as (typeof DYNAMO_STAND_INS)[number];
  }

  const day = text("day");
  if (day !== undefined && (text("from") !== undefined || text("to") !== undefined)) {
    throw new InvalidInputError("--day cannot be combined with --from/--to", { field: "day" });
  }
  options.from = day ?? text("from");
  options.to = day ?? text("to");
  for (const [flag, value] of [
    ["day/--from", options.from],
    ["day/--to", options.to],
  ] as const) {
    if (value !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
      throw new InvalidInputError(`--${flag} must be YYYY-MM-DD, got ${value}`, { field: flag });
    }
  }

  const platforms = text("platforms");
  if (platforms !== undefined) {
    const list = [...new Set(platforms.split(",").map((p) => p.trim().toUpperCase()))].filter(
      (p) => p !== "",
    );
    const unknown = list.filter((p) => !(PLATFORMS as readonly string[]).includes(p));
    if (list.length === 0 || unknown.length > 0) {
      throw new InvalidInputError(`--platforms must list ${PLATFORMS.join(", ")}, got ${platforms}`, {
        field: "platforms",
      });
    }
    options.platforms = list as Platform[];
  }
  options.granulesPerDay = positiveInteger("granules", text("granules"), 0);
  options.concurrency = positiveInteger("concurrency", text("concurrency"));
  options.hubSlots = positiveInteger("hub-slots", text("hub-slots"));
  options.mockMaxDownloads = positiveInteger("max-downloads", text("max-downloads"));
  const size = text("size");
  if (size !== undefined) options.productSize = parseSize(size, "--size");
  if (text("seed") !== undefined) options.seed = text("seed");
  const faults = text("faults");
  if (faults !== undefined) {
    if (!(FAULT_PROFILE_NAMES as string[]).includes(faults)) {
      throw new InvalidInputError(
        `--faults must be one of ${FAULT_PROFILE_NAMES.join(", ")}, got ${faults}`,
        {
          field: "faults",
        },
      );
    }
    options.faults = faults as FaultProfileName;
  }

  const kind = text("hub");
  if (kind !== undefined && kind !== "dhus" && kind !== "cdse") {
    throw new InvalidInputError(`--hub must be dhus or cdse, got ${kind}`, { field: "hub" });
  }
  const hubUrl = text("hub-url");
  if (hubUrl === undefined) {
    for (const flag of ["token-url", "download-url"]) {
      if (text(flag) !== undefined) throw new InvalidInputError(`--${flag} needs --hub-url`, { field: flag });
    }
    if (kind !== undefined) options.mockKind = kind;
  } else {
    for (const flag of ["hub-url", "token-url", "download-url"]) {
      const url = text(flag);
      if (url !== undefined && (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))) {
        throw new InvalidInputError(`--${flag} must be an http(s) URL, got ${url}`, { field: flag });
      }
    }
    const username = env["HUB_USERNAME"];
    const password = env["HUB_PASSWORD"];
    if (!username || !password) {
      throw new InvalidInputError("--hub-url needs HUB_USERNAME and HUB_PASSWORD in the environment", {
        field: "hub-url",
      });
    }
    if (
      options.granulesPerDay !== undefined ||
      options.productSize !== undefined ||
      options.faults !== undefined
    ) {
      throw new InvalidInputError("--granules, --size and --faults shape the mock hub; not with --hub-url", {
        field: "hub-url",
      });
    }
    options.hub = {
      kind: kind ?? "dhus",
      url: hubUrl,
      credentials: { username, password },
      ...(text("token-url") !== undefined && { tokenUrl: text("token-url") }),
      ...(text("download-url") !== undefined && { downloadUrl: text("download-url") }),
    };
  }
  return {
    help: values["help"] === true,
    json: values["json"] === true,
    verbose: values["verbose"] === true,
    options,
  };
}

/** `npm run local`: parse flags, run, print progress on stderr and the summary; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  if (argv[0] === "--live") {
    const { liveMain } = await import("../live/cli");
    return liveMain(argv.slice(1), resolve(DEFAULT_DATA_DIR, "live"));
  }
  let parsed: ParsedCli;
  try {
    parsed = parseCli(argv);
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n\n${USAGE}\n`);
    return EXIT.usage;
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  if (parsed.verbose) process.env["POWERTOOLS_LOG_LEVEL"] ??= "INFO";
  const progress = createProgressReporter(process.stderr);
  try {
    const summary = await runLocal({
      ...parsed.options,
      onProgress: (snapshot) => progress.update(snapshot),
    });
    progress.stop();
    process.stdout.write(
      parsed.json ? `${JSON.stringify(summary, null, 2)}\n` : `${formatSummary(summary)}\n`,
    );
    return exitCodeFor(summary);
  } catch (error) {
    progress.stop();
    if (error instanceof DataFolderInUseError) {
      process.stderr.write(`local run could not start: ${error.message}\n`);
      return EXIT.runFailed;
    }
    const name = error instanceof Error ? error.name : "Error";
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`local run failed: ${name}: ${message}\n`);
    const usage =
      error instanceof InvalidInputError ||
      (error instanceof DownloaderError && error.name === "ConfigError");
    if (usage) return EXIT.usage;
    // The execution is recorded FAILED at the state that failed: a redrive continues from there.
    process.stderr.write(`Redrive it once the cause is fixed: ${redriveCommand(parsed.options.dataDir)}\n`);
    return EXIT.runFailed;
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
