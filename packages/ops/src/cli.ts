import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ConfigError, InvalidInputError } from "@hls-s2/core/errors";
import type { ProgressReporter } from "@hls-s2/local";
// The light entry: the local runtime itself loads only when a command needs it.
import { DataFolderInUseError } from "@hls-s2/local/errors";
import { backfill } from "./commands/backfill";
import { formatRecount, recount } from "./commands/recount";
import { redrive, redriveLocalExecution } from "./commands/redrive";
import { formatReport, report } from "./commands/report";
import { requeue } from "./commands/requeue";
import { formatSlots, slots } from "./commands/slots";
import { status } from "./commands/status";
import { formatBackfill, formatRedrive, formatRequeue, formatStatus } from "./format";
import {
  type AwsClientConfig,
  type OpenLocalOptions,
  type OpsContext,
  openLocal,
  openStage,
} from "./resolve";

/** Exit codes: 0 done, 1 the operation failed, 2 bad command line, 3 environment (stage, credentials, region, data folder). */
export const EXIT = { ok: 0, failed: 1, usage: 2, environment: 3 } as const;

export const COMMANDS = ["status", "report", "backfill", "redrive", "requeue", "recount", "slots"] as const;
export type CommandName = (typeof COMMANDS)[number];

export const USAGE = `Usage: npm run ops -- <command> (--stage NAME | --local DIR) [options]

Commands:
  status   [--day D | --from A --to B]        granules per day and platform (found, downloaded, failed by
                                              error, pending, bytes) and the latest executions; default yesterday
  report   [--day D]                          completeness of a publication day (default yesterday) to hand to HLS:
                                              found = filtered + recorded against the hub's count after the day
                                              closed, recorded = delivered + failed + pending + duplicates, the
                                              duplicates and withdrawn products, the delivery manifest's place
  backfill --from A [--to B] [--platforms S2A,S2B] [--download-only]
                                              start one execution for a window (≤ 31 days) and print its console link
  redrive  (--execution ARN | --day D)        redrive FAILED / TIMED_OUT / ABORTED executions (only their failed
                                              granules run again); --day: those whose window covers D;
                                              with --local: [--execution NAME], default the newest FAILED one
  requeue  --day D [--dry-run] [--granule ID,…]
                                              FAILED and stuck DOWNLOADING granules of D back to DISCOVERED, then
                                              one download-only execution; --dry-run lists them, changes nothing;
                                              UploadOutcomeUnknownError only when --granule names it (confirm first)
  recount  --day D                            set D's per-platform recorded counters to what the status index
                                              holds (repairs a count applied twice; safe to repeat)
  slots    [N]                                the hub quota across every execution and the slots in use; with N
                                              (1–100) sets it: running downloads keep theirs, new ones follow
                                              within a minute (no deploy)

Where:
  --stage NAME     a deployed stage (its SSM parameters /hls-s2/NAME/…); AWS credentials from the usual chain
  --region R       its region (default AWS_REGION / AWS_DEFAULT_REGION / the profile's)
  --local DIR      a local-mode data folder (npm run local -- --data-dir DIR); executions run in-process

  --json           machine-readable output
  -h, --help       this text

Exit codes: 0 ok, 1 operation failed, 2 bad flags or dates, 3 unknown stage, no credentials or no local data.`;

/** Flags each command accepts besides the global ones. */
const COMMAND_FLAGS: Record<CommandName, string[]> = {
  status: ["day", "from", "to"],
  report: ["day"],
  backfill: ["from", "to", "platforms", "download-only"],
  redrive: ["execution", "day"],
  requeue: ["day", "dry-run", "granule"],
  recount: ["day"],
  slots: [],
};
const GLOBAL_FLAGS = ["stage", "local", "region", "json", "help"];

export interface ParsedCommandLine {
  command?: CommandName;
  help: boolean;
  json: boolean;
  stage?: string;
  local?: string;
  region?: string;
  flags: Record<string, string | boolean | undefined>;
}

/**
 * Parses argv into a command, its target (stage or local folder) and flags.
 * @throws InvalidInputError naming the bad flag.
 */
export function parseCommandLine(argv: string[]): ParsedCommandLine {
  let parsed: ReturnType<typeof parseArgs<{ allowPositionals: true; options: typeof OPTIONS }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    const flag = /'(-{1,2}[\w-]+)/.exec((error as Error).message)?.[1]?.replace(/^-+/, "");
    throw new InvalidInputError((error as Error).message, { cause: error, field: flag ?? "argv" });
  }
  const { values, positionals } = parsed;
  const help = values.help === true;
  const [name, ...rest] = positionals;
  // `slots N`: the one command with an argument.
  const count = name === "slots" && rest.length > 0 ? rest.shift() : undefined;
  const extra = rest;
  if (extra.length > 0) {
    throw new InvalidInputError(`unexpected argument ${extra[0]}`, { field: "argv" });
  }
  if (name !== undefined && !(COMMANDS as readonly string[]).includes(name)) {
    throw new InvalidInputError(`unknown command ${name}; one of ${COMMANDS.join(", ")}`, {
      field: "command",
    });
  }
  const command = name as CommandName | undefined;
  const result: ParsedCommandLine = {
    command,
    help,
    json: values.json === true,
    stage: values.stage,
    local: values.local,
    region: values.region,
    flags: count === undefined ? {} : { count },
  };
  if (help) return result;
  if (command === undefined) throw new InvalidInputError("no command given", { field: "command" });
  for (const [flag, value] of Object.entries(values)) {
    if (GLOBAL_FLAGS.includes(flag)) continue;
    if (!COMMAND_FLAGS[command].includes(flag)) {
      throw new InvalidInputError(`--${flag} is not an option of ${command}`, { field: flag });
    }
    result.flags[flag] = value;
  }
  if ((result.stage === undefined) === (result.local === undefined)) {
    throw new InvalidInputError("pass exactly one of --stage NAME or --local DIR", { field: "stage" });
  }
  if (command === "redrive" && result.local !== undefined && result.flags["day"] !== undefined) {
    throw new InvalidInputError(
      "locally, redrive takes --execution NAME (default the newest FAILED), not --day",
      {
        field: "day",
      },
    );
  }
  if (result.local !== undefined && result.region !== undefined) {
    throw new InvalidInputError("--region applies to --stage only", { field: "region" });
  }
  return result;
}

const OPTIONS = {
  stage: { type: "string" },
  local: { type: "string" },
  region: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  day: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  platforms: { type: "string" },
  "download-only": { type: "boolean" },
  execution: { type: "string" },
  "dry-run": { type: "boolean" },
  granule: { type: "string" },
} as const;

interface Writer {
  write(text: string): unknown;
}

/** What main reads from its surroundings; tests inject all of it. */
export interface CliIo {
  stdout?: Writer;
  stderr?: Writer;
  env?: Readonly<Record<string, string | undefined>>;
  /** Extra SDK settings for a stage's clients (endpoint, credentials). */
  clientConfig?: AwsClientConfig;
  /** Local-mode runner and its options (tests replace runLocal). */
  local?: OpenLocalOptions;
  /** The day the window rules count from (default now). */
  today?: Date;
}

/** The outcome of one command as data (what --json prints) and as text. */
interface Outcome {
  data: unknown;
  text: string;
  /** The exit code when it is not EXIT.ok (a local redrive whose execution FAILED again). */
  code?: number;
}

async function runCommand(parsed: ParsedCommandLine, context: OpsContext, today: Date): Promise<Outcome> {
  const flag = (name: string) => parsed.flags[name] as string | undefined;
  switch (parsed.command) {
    case "status": {
      if (flag("day") !== undefined && (flag("from") !== undefined || flag("to") !== undefined)) {
        throw new InvalidInputError("--day cannot be combined with --from/--to", { field: "day" });
      }
      const report = await status(
        { day: flag("day"), from: flag("from"), to: flag("to") },
        { store: await context.store(), sfn: context.sfn, slots: await context.slots(), today },
      );
      return { data: report, text: formatStatus(report, context.label) };
    }
    case "report": {
      const result = await report(
        { day: flag("day") },
        { store: await context.store(), workBucket: await context.workBucket(), today },
      );
      return { data: result, text: formatReport(result, context.label) };
    }
    case "slots": {
      const result = await slots({ count: flag("count") }, { pool: await context.slots() });
      return { data: result, text: formatSlots(result) };
    }
    case "backfill": {
      const platforms = flag("platforms")
        ?.split(",")
        .map((p) => p.trim().toUpperCase())
        .filter((p) => p !== "");
      const result = await backfill(
        {
          from: flag("from"),
          to: flag("to"),
          platforms,
          downloadOnly: parsed.flags["download-only"] === true,
        },
        { launch: context.launch, today },
      );
      return { data: result, text: formatBackfill(result) };
    }
    case "redrive": {
      if (context.redriveLocal !== undefined) {
        const summary = await redriveLocalExecution(
          { execution: flag("execution"), day: flag("day") },
          { redrive: context.redriveLocal },
        );
        const { formatSummary } = await import("@hls-s2/local");
        return {
          data: summary,
          text: formatSummary(summary),
          ...(summary.status === "FAILED" && { code: EXIT.failed }),
        };
      }
      if (context.sfn === undefined) {
        throw new InvalidInputError("redrive needs a deployed stage or a local data folder", {
          field: "stage",
        });
      }
      const result = await redrive(
        { executionArn: flag("execution"), day: flag("day") },
        { sfn: context.sfn, lookbackDays: context.lookbackDays },
      );
      return { data: result, text: formatRedrive(result) };
    }
    case "requeue": {
      const day = flag("day");
      if (day === undefined) throw new InvalidInputError("requeue needs --day D", { field: "day" });
      const dryRun = parsed.flags["dry-run"] === true;
      const granules = flag("granule")
        ?.split(",")
        .filter((id) => id !== "");
      const result = await requeue(
        { day, dryRun, ...(granules !== undefined && { granules }) },
        { store: await context.store(), ...(!dryRun && { launch: context.launch }) },
      );
      return { data: result, text: formatRequeue(result) };
    }
    case "recount": {
      const result = await recount({ day: flag("day") }, { store: await context.store() });
      return { data: result, text: formatRecount(result) };
    }
    default:
      throw new InvalidInputError("no command given", { field: "command" });
  }
}

const CREDENTIAL_REJECTED = new Set([
  "ExpiredToken",
  "ExpiredTokenException",
  "UnrecognizedClientException",
  "InvalidClientTokenId",
  "InvalidSignatureException",
]);

/** The exit code and the message for an error a command raised. */
export function describeFailure(
  error: unknown,
  parsed?: ParsedCommandLine,
): { code: number; message: string } {
  const name = error instanceof Error ? error.name : "Error";
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof InvalidInputError) {
    let field = error.field ?? "argv";
    // status --day D is checked as the window D..D: report the flag the operator typed.
    if (parsed?.flags["day"] !== undefined && (field === "from" || field === "to")) field = "day";
    return { code: EXIT.usage, message: `error (--${field}): ${message}\n\n${USAGE}` };
  }
  if (error instanceof DataFolderInUseError) return { code: EXIT.environment, message: `error: ${message}` };
  if (error instanceof ConfigError) {
    return { code: EXIT.environment, message: `error: ${error.issues.map((i) => i.message).join("; ")}` };
  }
  if (name === "CredentialsProviderError" || /could not load credentials/i.test(message)) {
    return {
      code: EXIT.environment,
      message:
        "error: no AWS credentials found. Configure them with `aws configure sso` + `aws sso login` and " +
        "AWS_PROFILE=<profile>, or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN). " +
        `(${message})`,
    };
  }
  if (CREDENTIAL_REJECTED.has(name)) {
    return {
      code: EXIT.environment,
      message: `error: AWS rejected the credentials (${name}: ${message}); refresh them, e.g. \`aws sso login\``,
    };
  }
  return { code: EXIT.failed, message: `error: ${name}: ${message}` };
}

/** `npm run ops -- …`: parses, opens the stage or local folder, runs one command, prints; returns the exit code. */
export async function main(argv: string[], io: CliIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const env = io.env ?? process.env;
  let parsed: ParsedCommandLine | undefined;
  let context: OpsContext | undefined;
  let progress: ProgressReporter | undefined;
  try {
    parsed = parseCommandLine(argv);
    if (parsed.help) {
      stdout.write(`${USAGE}\n`);
      return EXIT.ok;
    }
    if (parsed.local !== undefined) {
      // Starting a run may create the folder; reading the table needs one that exists.
      const requireData =
        parsed.command === "status" ||
        parsed.command === "report" ||
        parsed.command === "requeue" ||
        parsed.command === "redrive" ||
        parsed.command === "recount";
      const reads = ["status", "report", "recount"].includes(parsed.command ?? "");
      if (io.local?.onProgress === undefined && !reads) {
        const { createProgressReporter } = await import("@hls-s2/local");
        progress = createProgressReporter(stderr as never);
      }
      context = await openLocal(
        { dataDir: parsed.local },
        {
          requireData,
          ...io.local,
          ...(progress !== undefined && { onProgress: (snapshot) => progress!.update(snapshot) }),
        },
      );
    } else {
      const region = parsed.region ?? env["AWS_REGION"] ?? env["AWS_DEFAULT_REGION"];
      context = await openStage(
        { stage: parsed.stage! },
        { clientConfig: { ...io.clientConfig, ...(region !== undefined && region !== "" && { region }) } },
      );
    }
    const outcome = await runCommand(parsed, context, io.today ?? new Date());
    progress?.stop();
    stdout.write(parsed.json ? `${JSON.stringify(outcome.data, null, 2)}\n` : `${outcome.text}\n`);
    return outcome.code ?? EXIT.ok;
  } catch (error) {
    progress?.stop();
    const failure = describeFailure(error, parsed);
    stderr.write(`${failure.message}\n`);
    return failure.code;
  } finally {
    await context?.close().catch(() => undefined);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
