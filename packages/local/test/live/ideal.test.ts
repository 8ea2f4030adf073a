import type { MockProduct } from "@hls-s2/mock-hub";
import { describe, expect, it } from "vitest";
import type { LiveRelease } from "../../src/live/catalogue";
import { idealLatencyMinutes, pushPlan } from "../../src/live/ideal";

const MINUTE_MS = 60_000;

/** A product published `minute` simulated minutes into the day, `sizeBytes` long. */
function release(id: string, minute: number, sizeBytes: number): LiveRelease {
  return {
    product: { id, sizeBytes } as MockProduct,
    offsetMs: minute * MINUTE_MS,
    releaseMs: Number.POSITIVE_INFINITY,
  };
}

// One connection moves 1,000 bytes per real second at 60×: 1,000 bytes take a simulated minute.
const HUB = { pollMinutes: 5, downloads: 1, bytesPerSecond: 1_000, speed: 60 };

describe("the ideal downloader's latency, the bound of the live day", () => {
  it("finds an unpushed product at the next poll, then takes the hub's time for its bytes", () => {
    // Prepare: published at minute 1; the polls fire at 0, 5, 10…
    const releases = [release("a", 1, 2_000)];

    // Act
    const latency = idealLatencyMinutes(releases, { ...HUB, pushShare: 0, lateShare: 0 });

    // Assess: 4 minutes to the poll at 5, 2 minutes of transfer.
    expect(latency).toEqual({ p50: 6, p95: 6, max: 6 });
  });

  it("queues a burst behind the hub's connections, oldest first", () => {
    // Prepare: four products of a simulated minute each, published together at minute 5 (a poll finds them at once).
    const releases = ["a", "b", "c", "d"].map((id) => release(id, 5, 1_000));

    // Act: two connections, then one.
    const two = idealLatencyMinutes(releases, { ...HUB, downloads: 2, pushShare: 0, lateShare: 0 });
    const one = idealLatencyMinutes(releases, { ...HUB, pushShare: 0, lateShare: 0 });

    // Assess: 1, 1, 2, 2 minutes on two connections; 1, 2, 3, 4 on one (nearest rank: p50 is the 2nd value).
    expect(two).toEqual({ p50: 1, p95: 2, max: 2 });
    expect(one).toEqual({ p50: 2, p95: 4, max: 4 });
  });

  it("learns of a pushed product at its push, before the poll", () => {
    // Prepare
    const releases = [release("a", 1, 1_000)];
    const plan = pushPlan("a", { pushShare: 1, lateShare: 0 });

    // Act
    const latency = idealLatencyMinutes(releases, { ...HUB, pushShare: 1, lateShare: 0 });

    // Assess: the push comes 0.25–1 minute after publication, the transfer takes one more.
    expect(plan).toMatchObject({ pushed: true, late: false });
    expect(plan.delayMinutes).toBeGreaterThanOrEqual(0.25);
    expect(plan.delayMinutes).toBeLessThanOrEqual(1);
    expect(latency.p95).toBeCloseTo(plan.delayMinutes + 1, 1);
  });

  it("pushes the same products for the same shares, and late ones 30–180 minutes after publication", () => {
    // Act
    const plans = Array.from({ length: 2_000 }, (_, i) =>
      pushPlan(`p${i}`, { pushShare: 0.9, lateShare: 0.2 }),
    );

    // Assess
    expect(plans).toEqual(
      Array.from({ length: 2_000 }, (_, i) => pushPlan(`p${i}`, { pushShare: 0.9, lateShare: 0.2 })),
    );
    const pushed = plans.filter((plan) => plan.pushed);
    expect(pushed.length / plans.length).toBeCloseTo(0.9, 1);
    const late = pushed.filter((plan) => plan.late);
    expect(late.length / pushed.length).toBeCloseTo(0.2, 1);
    for (const plan of late) {
      expect(plan.delayMinutes).toBeGreaterThanOrEqual(30);
      expect(plan.delayMinutes).toBeLessThanOrEqual(180);
    }
    expect(plans.filter((plan) => !plan.pushed).every((plan) => !plan.late)).toBe(true);
  });
});
