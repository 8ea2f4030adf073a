import { formatBytes } from "@hls-s2/core/domain";
import { InvalidInputError } from "@hls-s2/core/errors";

/** What a local run has done so far; the runner updates it as the bound handlers return. */
export interface ProgressSnapshot {
  /** The Task state last entered (GenerateQueries, FetchPage, WriteManifest, Download, Summarize …). */
  step: string;
  /** Granules the search recorded as new during this run. */
  discovered: number;
  /** Granules in this run's manifest (undefined until WriteManifest ran). */
  manifest?: number;
  downloaded: number;
  failed: number;
  /** Manifest items not finished yet (in flight or waiting for a Map slot). */
  pending: number;
  inFlight: number;
  retries: number;
  /** Bytes of the granules this run downloaded. */
  bytes: number;
  elapsedMs: number;
  /** Throughput since the first download started. */
  mbPerSecond: number;
  /** The DynamoDB stand-in serving the table ("dynamodb-local" or "dynalite"). */
  store?: string;
}

export interface ProgressWriter {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export interface ProgressReporter {
  update(snapshot: ProgressSnapshot): void;
  /** Prints the last state once more (plain mode) or clears the redrawn line (TTY). */
  stop(): void;
}

/** One line describing a snapshot, e.g. `[12.3s] Download  done 10  failed 1  pending 19 (15 in flight) …`. */
export function formatProgress(snapshot: ProgressSnapshot): string {
  const seconds = (snapshot.elapsedMs / 1000).toFixed(1);
  const parts = [`[${seconds}s] ${snapshot.step}`];
  if (snapshot.manifest === undefined) {
    parts.push(`discovered ${snapshot.discovered}`);
  } else {
    parts.push(
      `done ${snapshot.downloaded}/${snapshot.manifest}`,
      `failed ${snapshot.failed}`,
      `pending ${snapshot.pending} (${snapshot.inFlight} in flight)`,
      formatBytes(snapshot.bytes),
      `${snapshot.mbPerSecond.toFixed(1)} MB/s`,
    );
    if (snapshot.retries > 0) parts.push(`retries ${snapshot.retries}`);
  }
  if (snapshot.store !== undefined) parts.push(`[${snapshot.store}]`);
  return parts.join("  ");
}

/**
 * Live progress on a stream (stderr): one line redrawn in place at most every `redrawMs` on a TTY,
 * else a plain line every `intervalMs` and whenever the step changes, so CI logs stay short.
 * @throws InvalidInputError on a non-positive interval.
 */
export function createProgressReporter(
  stream: ProgressWriter = process.stderr,
  options: { intervalMs?: number; redrawMs?: number; now?: () => number } = {},
): ProgressReporter {
  options.intervalMs ??= 5000;
  options.redrawMs ??= 100;
  options.now ??= Date.now;
  const { intervalMs, redrawMs, now } = options;
  if (!(intervalMs > 0) || !(redrawMs > 0)) {
    throw new InvalidInputError("intervalMs and redrawMs must be positive", { field: "intervalMs" });
  }
  const tty = stream.isTTY === true;
  let last: ProgressSnapshot | undefined;
  let lastWrite = Number.NEGATIVE_INFINITY;
  let lastStep: string | undefined;
  let drawn = false;
  let printed: ProgressSnapshot | undefined;

  const draw = (snapshot: ProgressSnapshot) => {
    const line = formatProgress(snapshot);
    if (tty) {
      // Clip to the terminal width: a wrapped line cannot be redrawn in place.
      const width = Math.max(20, (stream.columns || 120) - 1);
      stream.write(`\r\x1b[2K${line.slice(0, width)}`);
      drawn = true;
    } else {
      stream.write(`${line}\n`);
    }
    lastWrite = now();
    lastStep = snapshot.step;
    printed = snapshot;
  };

  return {
    update(snapshot) {
      last = snapshot;
      const due = now() - lastWrite >= (tty ? redrawMs : intervalMs);
      if (due || snapshot.step !== lastStep) draw(snapshot);
    },
    stop() {
      if (tty) {
        if (drawn) stream.write("\r\x1b[2K");
      } else if (last !== undefined && last !== printed) {
        draw(last);
      }
    },
  };
}
