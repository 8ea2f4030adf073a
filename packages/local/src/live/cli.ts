import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { InvalidInputError } from "@hls-s2/core/errors";
import { idealLiveDay, type LiveDayOptions, type LiveDaySummary, runLiveDay } from "./day";

export const LIVE_USAGE = `Usage: npm run local -- --live [options]

A time-compressed live day of the continuous mode (docs/continuous.md): the mock hub (CDSE API)
publishes a day's catalogue in datatake bursts on a clock SPEED times faster than real, pushes a share
of it, and the continuous mode runs (a pushed-granules run decided every simulated minute, a poll
every --poll-minutes), all on 127.0.0.1. Prints latency percentiles in simulated minutes.

  --granules N        granules a whole day publishes (default 13000)
  --hours H           simulated hours played, at the day's rate (default 1; under 3 the datatake
                      bursts shrink with the share, so a short share still sees several)
  --speed S           simulated seconds per real second (default 5). Every local cost is multiplied
                      by it: above ~10 on 2 cores the local stand-ins, not the design, set the latency
  --push-share P      share of products pushed, 0–1 (default 0.95); 0: poll only
  --late-share L      of the pushed, share sent 30–180 simulated minutes late (default 0.05)
  --poll-minutes M    the continuous mode's poll interval, simulated minutes (default 5)
  --hub-downloads N   the hub's concurrent downloads: HUB_DOWNLOAD_SLOTS and the mock's 429 limit (default 4)
  --mb-per-second R   the hub's rate per connection in real-world MB/s (default 20)
  --size-scale K      products are served K times smaller than real (50–800 MB), the rate per
                      connection scaled by SPEED / K (default 1000)
  --data-dir DIR      where the table and buckets live (default .local-data/live, emptied first)
  --ideal             print only what an ideal downloader (no overhead, oldest first) would reach on
                      this day and hub, without running it: the bound no design beats
  --json              the summary as JSON`;

function number(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new InvalidInputError(`--${flag} must be a number in ${min}..${max}, got ${text}`, { field: flag });
  }
  return value;
}

/**
 * The live day's options from its flags.
 * @throws InvalidInputError naming the bad flag.
 */
export function parseLiveCli(
  argv: string[],
  defaultDataDir: string,
): { json: boolean; ideal: boolean; options: LiveDayOptions } {
  let values: Record<string, string | boolean | undefined>;
  try {
    const flag = { type: "string" } as const;
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        granules: flag,
        hours: flag,
        speed: flag,
        "push-share": flag,
        "late-share": flag,
        "poll-minutes": flag,
        "hub-downloads": flag,
        "mb-per-second": flag,
        "size-scale": flag,
        "data-dir": flag,
        json: { type: "boolean" },
        ideal: { type: "boolean" },
      },
    }));
  } catch (error) {
    throw new InvalidInputError((error as Error).message, { cause: error });
  }
  const text = (name: string) => values[name] as string | undefined;
  const speed = number("speed", text("speed"), 5, 1, 3600);
  const scale = number("size-scale", text("size-scale"), 1000, 1, 1_000_000);
  const mbPerSecond = number("mb-per-second", text("mb-per-second"), 20, 0.1, 10_000);
  return {
    json: values["json"] === true,
    ideal: values["ideal"] === true,
    options: {
      dataDir: resolve(text("data-dir") ?? defaultDataDir),
      granules: Math.round(number("granules", text("granules"), 13_000, 1, 100_000)),
      dayShare: number("hours", text("hours"), 1, 0.1, 24) / 24,
      speed,
      pushShare: number("push-share", text("push-share"), 0.95, 0, 1),
      lateShare: number("late-share", text("late-share"), 0.05, 0, 1),
      pollMinutes: Math.round(number("poll-minutes", text("poll-minutes"), 5, 1, 60)),
      hubDownloads: Math.round(number("hub-downloads", text("hub-downloads"), 4, 1, 100)),
      sizeBytes: { min: Math.round(50e6 / scale), max: Math.round(800e6 / scale) },
      bytesPerSecond: Math.round((mbPerSecond * 1e6 * speed) / scale),
    },
  };
}

/** The summary for people. */
export function formatLiveSummary(summary: LiveDaySummary, options: LiveDayOptions): string {
  const { latencyMinutes: latency, idealLatencyMinutes: ideal } = summary;
  return [
    `Live day: ${summary.granules} granules over ${Math.round(options.dayShare! * 24 * 10) / 10} simulated hours at ${options.speed}× (${summary.realSeconds} s real)`,
    `  pushed ${summary.pushed} (${summary.pushedLate} late), never pushed ${summary.pushesDropped}; runs: ${summary.runs.pushed} pushed-granules, ${summary.runs.poll} polls, ${summary.runs.failed} failed`,
    `  delivered ${summary.delivered}/${summary.granules}, objects ${summary.objects}, downloads ${summary.downloadedOutcomes}: exactly once ${summary.exactlyOnce ? "yes" : "NO"}`,
    `  hub: ${summary.throttled} × 429, at most ${summary.peakDownloads} downloads at once (limit ${options.hubDownloads})`,
    `  publication → verified object, simulated minutes: p50 ${latency.p50 ?? "-"}, p95 ${latency.p95 ?? "-"}, max ${latency.max ?? "-"}`,
    `  of which publication → recorded (push or poll): p50 ${summary.recordedMinutes.p50 ?? "-"}, p95 ${summary.recordedMinutes.p95 ?? "-"}, max ${summary.recordedMinutes.max ?? "-"}`,
    `  an ideal downloader on this hub (no overhead, oldest first): p50 ${ideal.p50 ?? "-"}, p95 ${ideal.p95 ?? "-"}, max ${ideal.max ?? "-"}`,
    `  download retries per granule (waits for a hub slot): ${summary.retriesPerGranule}`,
  ].join("\n");
}

/** `npm run local -- --live …`; returns the exit code (0 every granule exactly once and no 429, else 1; 2 bad flags). */
export async function liveMain(argv: string[], defaultDataDir: string): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${LIVE_USAGE}\n`);
    return 0;
  }
  let parsed: ReturnType<typeof parseLiveCli>;
  try {
    parsed = parseLiveCli(argv, defaultDataDir);
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n\n${LIVE_USAGE}\n`);
    return 2;
  }
  if (parsed.ideal) {
    const ideal = idealLiveDay(parsed.options);
    process.stdout.write(
      parsed.json
        ? `${JSON.stringify({ idealLatencyMinutes: ideal }, null, 2)}\n`
        : `An ideal downloader on this day and hub, simulated minutes: p50 ${ideal.p50 ?? "-"}, p95 ${ideal.p95 ?? "-"}, max ${ideal.max ?? "-"}\n`,
    );
    return 0;
  }
  const summary = await runLiveDay({
    ...parsed.options,
    onProgress: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(
    parsed.json ? `${JSON.stringify(summary, null, 2)}\n` : `${formatLiveSummary(summary, parsed.options)}\n`,
  );
  return summary.exactlyOnce && summary.throttled === 0 ? 0 : 1;
}
