import { TransferTooSlowError } from "../../domain/errors";
import type { DownloadStream } from "../hub/hub";

export interface ThroughputFloor {
  /** Throughput floor in bytes/s; 0: none. */
  minBytesPerSecond: number;
  /** The floor's window in ms of time spent waiting on the hub. */
  floorWindowMs: number;
}

/** One body's floor watch: set `slow` once a window ended under the floor. */
export interface FloorWatch {
  slow: TransferTooSlowError | undefined;
  /** The reader starts waiting on the hub for the next chunk. */
  waiting(): void;
  /** The wait ended (a chunk, the end or an error). */
  arrived(): void;
  /** A chunk of `length` bytes arrived. */
  count(length: number): void;
  stop(): void;
}

/**
 * Watches one body's throughput over windows of `floorWindowMs` spent waiting on the hub (time
 * spent waiting for a part slot is S3's, not the hub's, and is not counted). A window that ends
 * under the floor cuts the body; a timer catches a window that ends inside one long wait.
 */
export function watchThroughputFloor(
  body: DownloadStream["body"],
  granuleId: string,
  { minBytesPerSecond, floorWindowMs }: ThroughputFloor,
): FloorWatch {
  const required = (minBytesPerSecond * floorWindowMs) / 1000;
  let waitedMs = 0;
  let bytes = 0;
  let since = 0;
  let timer: NodeJS.Timeout | undefined;
  const judge = (): void => {
    if (bytes < required) {
      const bytesPerSecond = Math.round((bytes * 1000) / floorWindowMs);
      watch.slow = new TransferTooSlowError(
        `body of ${granuleId} delivered ${bytesPerSecond} B/s over ${floorWindowMs / 1000} s, under the floor of ${minBytesPerSecond} B/s`,
        { granuleId, bytesPerSecond },
      );
    }
    waitedMs = 0;
    bytes = 0;
  };
  const watch: FloorWatch = {
    slow: undefined,
    waiting(): void {
      if (minBytesPerSecond === 0) return;
      since = performance.now();
      const schedule = (ms: number) => {
        timer = setTimeout(() => {
          // The window ended inside this wait: judge it, and start the next one from now.
          judge();
          if (watch.slow !== undefined) body.destroy(watch.slow);
          else {
            since = performance.now();
            schedule(floorWindowMs);
          }
        }, ms);
      };
      schedule(Math.max(0, floorWindowMs - waitedMs));
    },
    arrived(): void {
      if (minBytesPerSecond === 0) return;
      clearTimeout(timer);
      timer = undefined;
      waitedMs += performance.now() - since;
    },
    count(length: number): void {
      if (minBytesPerSecond === 0) return;
      bytes += length;
      if (waitedMs >= floorWindowMs) judge();
    },
    stop(): void {
      clearTimeout(timer);
    },
  };
  return watch;
}
