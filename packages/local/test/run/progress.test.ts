import { formatBytes } from "@hls-s2/core/domain";
import { describe, expect, it } from "vitest";
import { createProgressReporter, formatProgress, type ProgressSnapshot } from "../../src/run/progress";

function snapshot(overrides: Partial<ProgressSnapshot> = {}): ProgressSnapshot {
  return {
    step: "DownloadGranules",
    discovered: 30,
    manifest: 30,
    downloaded: 10,
    failed: 1,
    pending: 19,
    inFlight: 15,
    retries: 0,
    bytes: 42 * 1024 * 1024,
    elapsedMs: 12_345,
    mbPerSecond: 6.25,
    ...overrides,
  };
}

function recorder(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 80, write: (text: string) => writes.push(text) } };
}

describe("formatProgress", () => {
  it("shows done, failed, pending, bytes and throughput once a manifest exists", () => {
    expect(formatProgress(snapshot())).toBe(
      "[12.3s] DownloadGranules  done 10/30  failed 1  pending 19 (15 in flight)  42.0 MiB  6.3 MB/s",
    );
  });

  it("shows what the search discovered before the manifest exists", () => {
    expect(formatProgress(snapshot({ step: "FetchLinks", manifest: undefined, discovered: 7 }))).toBe(
      "[12.3s] FetchLinks  discovered 7",
    );
  });

  it("mentions retries only when there were some", () => {
    expect(formatProgress(snapshot({ retries: 3 }))).toMatch(/retries 3$/);
  });
});

describe("formatBytes", () => {
  it("uses binary units", () => {
    expect([formatBytes(512), formatBytes(1536), formatBytes(5 * 1024 ** 3)]).toEqual([
      "512 B",
      "1.5 KiB",
      "5.0 GiB",
    ]);
  });
});

describe("createProgressReporter", () => {
  it("redraws one line in place on a TTY and clears it when stopped", () => {
    const { writes, stream } = recorder(true);
    let now = 0;
    const reporter = createProgressReporter(stream, { now: () => now, redrawMs: 100 });
    reporter.update(snapshot({ downloaded: 1 }));
    now = 50;
    reporter.update(snapshot({ downloaded: 2 }));
    now = 150;
    reporter.update(snapshot({ downloaded: 3 }));
    reporter.stop();
    expect(writes).toHaveLength(3);
    expect(writes.every((text) => text.startsWith("\r\x1b[2K") && !text.includes("\n"))).toBe(true);
    expect(writes[1]).toContain("done 3/30");
    expect(writes[2]).toBe("\r\x1b[2K");
  });

  it("prints plain lines at the interval and on each step change when not a TTY", () => {
    const { writes, stream } = recorder(false);
    let now = 0;
    const reporter = createProgressReporter(stream, { now: () => now, intervalMs: 5000 });
    reporter.update(snapshot({ step: "FetchLinks", manifest: undefined }));
    now = 1000;
    reporter.update(snapshot({ step: "DownloadGranules", downloaded: 1 }));
    now = 2000;
    reporter.update(snapshot({ downloaded: 2 }));
    now = 7000;
    reporter.update(snapshot({ downloaded: 3 }));
    reporter.stop();
    expect(writes.map((line) => line.trim().split("  ")[0])).toEqual([
      "[12.3s] FetchLinks",
      "[12.3s] DownloadGranules",
      "[12.3s] DownloadGranules",
    ]);
    expect(writes.every((line) => line.endsWith("\n"))).toBe(true);
    expect(writes[2]).toContain("done 3/30");
  });

  it("prints the final state when stopped if it was not printed yet", () => {
    const { writes, stream } = recorder(false);
    let now = 0;
    const reporter = createProgressReporter(stream, { now: () => now });
    reporter.update(snapshot({ downloaded: 1 }));
    now = 10;
    reporter.update(snapshot({ downloaded: 30, pending: 0 }));
    reporter.stop();
    expect(writes).toHaveLength(2);
    expect(writes[1]).toContain("done 30/30");
  });

  it("rejects a non-positive interval", () => {
    expect(() => createProgressReporter(recorder(false).stream, { intervalMs: 0 })).toThrow(/intervalMs/);
  });
});
