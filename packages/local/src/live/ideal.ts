import { latencyStats } from "@hls-s2/core/domain";
import type { LiveRelease } from "./catalogue";

const MINUTE_MS = 60_000;

/** When a product is pushed, if at all: seeded by its id, so the live day and its bound see the same pushes. */
export interface PushPlan {
  pushed: boolean;
  late: boolean;
  /** Simulated minutes after publication. */
  delayMinutes: number;
}

/**
 * A product's push: within a simulated minute of its publication (CDSE: "within a minute"), 30–180
 * simulated minutes late for `lateShare` of the pushed, never for the rest.
 */
export function pushPlan(productId: string, shares: { pushShare: number; lateShare: number }): PushPlan {
  const draw = (salt: string) => fraction(`${productId}:${salt}`);
  const pushed = draw("push") < shares.pushShare;
  const late = pushed && draw("late") < shares.lateShare;
  return { pushed, late, delayMinutes: late ? 30 + draw("delay") * 150 : 0.25 + draw("delay") * 0.75 };
}

/**
 * The latency an ideal downloader would reach on the same day and hub, in simulated minutes: it learns
 * of a product at its first push or at the first poll after its publication, and starts it the moment
 * one of the hub's connections is free, oldest first, at the hub's rate, with no other cost. No design
 * can do better on that hub; the gap to the measured figures is the downloader's (and, locally, the
 * emulator's) own overhead. A pessimistic poll-less push of a late product is not modelled: the poll
 * finds it first.
 */
export function idealLatencyMinutes(
  releases: readonly LiveRelease[],
  hub: {
    /** Offsets are simulated ms after the day's start; the poll fires every `pollMinutes` from it. */
    pollMinutes: number;
    pushShare: number;
    lateShare: number;
    downloads: number;
    /** Real-clock bytes per second of one connection, and simulated ms per real ms. */
    bytesPerSecond: number;
    speed: number;
  },
): { p50?: number; p95?: number; max?: number } {
  const pollMs = hub.pollMinutes * MINUTE_MS;
  const jobs = releases
    .map(({ product, offsetMs }) => {
      const push = pushPlan(product.id, hub);
      const polled = Math.ceil(offsetMs / pollMs) * pollMs;
      const known = push.pushed ? Math.min(polled, offsetMs + push.delayMinutes * MINUTE_MS) : polled;
      const serviceMs = (product.sizeBytes / hub.bytesPerSecond) * 1000 * hub.speed;
      return { offsetMs, known, serviceMs };
    })
    .sort((a, b) => a.known - b.known);
  const free = Array.from({ length: hub.downloads }, () => 0);
  const day = Date.UTC(2000, 0, 1);
  const granules = jobs.map((job) => {
    let slot = 0;
    for (let i = 1; i < free.length; i++) if (free[i]! < free[slot]!) slot = i;
    const done = Math.max(free[slot]!, job.known) + job.serviceMs;
    free[slot] = done;
    return {
      publishedAt: new Date(day + job.offsetMs).toISOString(),
      downloadedAt: new Date(day + done).toISOString(),
    };
  });
  const stats = latencyStats(granules);
  const minutes = (seconds: number | undefined) =>
    seconds === undefined ? undefined : Math.round((seconds / 60) * 10) / 10;
  return { p50: minutes(stats.p50Seconds), p95: minutes(stats.p95Seconds), max: minutes(stats.maxSeconds) };
}

/** A number in [0, 1) from a text (FNV-1a). */
function fraction(text: string): number {
  let hash = 2166136261;
  for (const char of text) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619);
  return (hash >>> 0) / 4294967296;
}
