/** Helpers shared by the benchmarks: peak RSS, medians, child processes over IPC, the table. */
import { type ChildProcess, fork } from "node:child_process";
import { readFileSync } from "node:fs";

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** Peak resident set size (VmHWM) of a process, in bytes; this process by default. */
export function peakRss(pid: number | "self" = "self"): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match === null ? process.memoryUsage().rss : Number(match[1]) * 1024;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

/** A tsx child process answering one request per message: `{ id, ...request }` → `{ id, result | error }`. */
export class Child {
  readonly process: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private exited: Error | undefined;
  private readonly exitedPromise: Promise<void>;
  /** Resolves when the child said it is ready (`serveParent` with `ready`). */
  readonly ready: Promise<void>;
  private markReady!: () => void;

  /** `options.process`: a process already started with an IPC channel (e.g. in a cgroup) instead of a fork. */
  constructor(
    script: string,
    args: string[] = [],
    options: { execArgv?: string[]; process?: ChildProcess } = {},
  ) {
    this.process =
      options.process ??
      fork(script, args, {
        execArgv: ["--import", "tsx", ...(options.execArgv ?? [])],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
    this.ready = new Promise<void>((resolve) => {
      this.markReady = resolve;
    });
    this.process.on("message", (message: { id: number; result?: unknown; error?: string }) => {
      // Messages sent before the child listens are lost, so it announces itself first (id 0).
      if (message.id === 0) this.markReady();
      const pending = this.waiting.get(message.id);
      if (pending === undefined) return;
      this.waiting.delete(message.id);
      if (message.error !== undefined) pending.reject(new Error(message.error));
      else pending.resolve(message.result);
    });
    this.exitedPromise = new Promise<void>((resolve) => this.process.once("exit", () => resolve()));
    this.process.on("exit", (code, signal) => {
      this.exited = new Error(`child ${script} exited (${code ?? signal})`);
      for (const pending of this.waiting.values()) pending.reject(this.exited);
      this.waiting.clear();
    });
  }

  get pid(): number {
    return this.process.pid!;
  }

  async call<T>(request: Record<string, unknown>): Promise<T> {
    await Promise.race([this.ready, this.exitedPromise]);
    if (this.exited !== undefined) throw this.exited;
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.process.send({ id, ...request });
    });
  }

  /** Disconnects and waits for the child to exit (it exits on disconnect). */
  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.process.once("exit", () => resolve()));
    if (this.process.connected) this.process.disconnect();
    const timer = setTimeout(() => this.process.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Serves requests from the parent in a child process; exits when the parent disconnects. */
export function serveParent(
  handle: (request: Record<string, unknown>) => Promise<unknown>,
  onDisconnect: () => Promise<void> = async () => undefined,
): void {
  process.on("message", (message: { id: number } & Record<string, unknown>) => {
    handle(message).then(
      (result) => process.send?.({ id: message.id, result }),
      (error: unknown) =>
        process.send?.({
          id: message.id,
          error: error instanceof Error ? (error.stack ?? error.message) : String(error),
        }),
    );
  });
  process.on("disconnect", () => {
    void onDisconnect().finally(() => process.exit(0));
  });
  process.send?.({ id: 0 });
}

export interface Row {
  benchmark: string;
  case: string;
  metric: string;
  value: string;
  goal?: string;
  met?: boolean;
}

/** Prints rows as an aligned text table. */
export function printTable(rows: readonly Row[]): void {
  const header = ["benchmark", "case", "metric", "value", "goal", "met"];
  const cells = rows.map((row) => [
    row.benchmark,
    row.case,
    row.metric,
    row.value,
    row.goal ?? "",
    row.met === undefined ? "" : row.met ? "yes" : "NO",
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  console.log(line(header));
  console.log(line(widths.map((width) => "-".repeat(width))));
  for (const values of cells) console.log(line(values));
}
