import { describe, expect, it } from "vitest";
import { formatLatency, latencyStats, publicationLatencySeconds } from "../../src/domain/latency";

const PUBLISHED = "2026-03-14T06:00:00.000Z";
/** A downloaded granule published at PUBLISHED and verified `hours` later. */
const after = (hours: number) => ({
  publishedAt: PUBLISHED,
  downloadedAt: new Date(Date.parse(PUBLISHED) + hours * 3600_000).toISOString(),
});

describe("publicationLatencySeconds", () => {
  it("counts seconds from publication to the verified object, from ISO or epoch milliseconds", () => {
    expect(publicationLatencySeconds(PUBLISHED, "2026-03-14T07:30:00.500Z")).toBe(5400.5);
    expect(publicationLatencySeconds(PUBLISHED, Date.parse(PUBLISHED) + 90_000)).toBe(90);
  });

  it("never goes negative when the hub's clock runs ahead of ours", () => {
    expect(publicationLatencySeconds(PUBLISHED, "2026-03-14T05:59:59.000Z")).toBe(0);
  });

  it("is undefined without both times", () => {
    expect(publicationLatencySeconds(PUBLISHED, undefined)).toBeUndefined();
    expect(publicationLatencySeconds("not a time", Date.now())).toBeUndefined();
  });
});

describe("latencyStats", () => {
  it("gives nearest-rank p50 and p95 and the max of the downloaded granules", () => {
    // 20 granules verified 1 … 20 hours after publication, and two still pending.
    const granules = [
      ...Array.from({ length: 20 }, (_, index) => after(index + 1)),
      { publishedAt: PUBLISHED },
      { publishedAt: PUBLISHED },
    ];

    expect(latencyStats(granules)).toEqual({
      count: 20,
      p50Seconds: 10 * 3600,
      p95Seconds: 19 * 3600,
      maxSeconds: 20 * 3600,
    });
  });

  it("takes the only value for every figure of a single granule", () => {
    expect(latencyStats([after(3)])).toEqual({
      count: 1,
      p50Seconds: 3 * 3600,
      p95Seconds: 3 * 3600,
      maxSeconds: 3 * 3600,
    });
  });

  it("has no figures when nothing was downloaded", () => {
    expect(latencyStats([{ publishedAt: PUBLISHED }])).toEqual({ count: 0 });
  });
});

describe("formatLatency", () => {
  it("reads in seconds, minutes or hours", () => {
    expect(formatLatency(42)).toBe("42 s");
    expect(formatLatency(17 * 60)).toBe("17 min");
    expect(formatLatency(5.25 * 3600)).toBe("5.3 h");
    expect(formatLatency(undefined)).toBe("-");
  });
});
