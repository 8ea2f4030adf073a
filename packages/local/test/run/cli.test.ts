import { resolve } from "node:path";
import { emptyTally, parseSize } from "@hls-s2/core/domain";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_DATA_DIR, EXIT, exitCodeFor, main, parseCli } from "../../src/run/cli";
import { formatSummary } from "../../src/run/report";
import type { LocalRunSummary } from "../../src/run/summary";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("parseCli", () => {
  it("runs the default day into .local-data with no flags", () => {
    const parsed = parseCli([], {});
    expect(parsed).toEqual({
      help: false,
      json: false,
      verbose: false,
      options: { dataDir: DEFAULT_DATA_DIR },
    });
    expect(DEFAULT_DATA_DIR.endsWith(".local-data")).toBe(true);
  });

  it("maps every mock-hub flag onto the run options", () => {
    const { options, json } = parseCli(
      [
        "--data-dir",
        "tmp/x",
        "--clean",
        "--download-only",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-03",
        "--platforms",
        "s2a,S2C",
        "--granules",
        "7",
        "--size",
        "2MiB-3MiB",
        "--concurrency",
        "4",
        "--faults",
        "light",
        "--seed",
        "abc",
        "--hub",
        "cdse",
        "--dynamo",
        "dynalite",
        "--json",
      ],
      {},
    );
    expect(json).toBe(true);
    expect(options).toEqual({
      dataDir: resolve("tmp/x"),
      clean: true,
      downloadOnly: true,
      from: "2026-01-01",
      to: "2026-01-03",
      platforms: ["S2A", "S2C"],
      granulesPerDay: 7,
      productSize: { min: 2 * 1024 * 1024, max: 3 * 1024 * 1024 },
      concurrency: 4,
      faults: "light",
      seed: "abc",
      mockKind: "cdse",
      dynamo: "dynalite",
    });
  });

  it("filters on HLS's tiles unless --all-tiles", () => {
    expect(parseCli([], {}).options.allTiles).toBeUndefined();
    expect(parseCli(["--all-tiles"], {}).options.allTiles).toBe(true);
  });

  it("uses one --day for both ends of the window", () => {
    expect(parseCli(["--day", "2026-02-03"], {}).options).toMatchObject({
      from: "2026-02-03",
      to: "2026-02-03",
    });
  });

  it("takes an external hub's credentials from the environment only", () => {
    const { options } = parseCli(["--hub", "dhus", "--hub-url", "https://hub.example/"], {
      HUB_USERNAME: "me",
      HUB_PASSWORD: "pw",
    });
    expect(options.hub).toEqual({
      kind: "dhus",
      url: "https://hub.example/",
      credentials: { username: "me", password: "pw" },
    });
  });

  it.each([
    [["--bogus"], /bogus/],
    [["--day", "2026-1-1"], /YYYY-MM-DD/],
    [["--day", "2026-01-01", "--from", "2026-01-01"], /--day cannot be combined/],
    [["--platforms", "S2A,S3A"], /--platforms/],
    [["--granules", "-1"], /--granules/],
    [["--concurrency", "0"], /--concurrency/],
    [["--size", "big"], /--size/],
    [["--size", "8MiB-2MiB"], /min above max/],
    [["--faults", "extreme"], /--faults/],
    [["--hub", "scihub"], /--hub must be/],
    [["--dynamo", "dynamodb"], /--dynamo must be one of auto, dynamodb-local, dynalite/],
    [["--hub-url", "ftp://x"], /--hub-url must be an http/],
    [["--hub-url", "https://hub.example"], /HUB_USERNAME and HUB_PASSWORD/],
    [["--token-url", "https://id.example"], /--token-url needs --hub-url/],
    [["--download-url", "https://zipper.example"], /--download-url needs --hub-url/],
  ])("rejects %j with a message naming the flag", (argv, message) => {
    expect(() => parseCli(argv, {})).toThrow(message);
  });
});

describe("parseSize", () => {
  it("reads binary and decimal units, plain bytes and ranges", () => {
    expect(parseSize("4MiB")).toBe(4 * 1024 * 1024);
    expect(parseSize("1.5KiB")).toBe(1536);
    expect(parseSize("2MB")).toBe(2_000_000);
    expect(parseSize("1000")).toBe(1000);
    expect(parseSize("1MiB..2MiB")).toEqual({ min: 1024 * 1024, max: 2 * 1024 * 1024 });
  });
});

describe("main", () => {
  it("exits 2 with the usage on a bad flag, starting nothing", async () => {
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    expect(await main(["--granules", "many"])).toBe(EXIT.usage);
    const text = stderr.mock.calls.map(([chunk]) => String(chunk)).join("");
    expect(text).toMatch(/error: --granules must be an integer/);
    expect(text).toMatch(/Usage: npm run local/);
  });

  it("prints the usage and exits 0 for --help", async () => {
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    expect(await main(["--help"])).toBe(EXIT.ok);
    expect(String(stdout.mock.calls[0]?.[0])).toMatch(/--hub-url URL/);
    expect(String(stdout.mock.calls[0]?.[0])).toMatch(
      /3 the run could not\s+start \(e\.g\. "data folder … in use by PID N"/,
    );
  });
});

function summary(overrides: Partial<LocalRunSummary> = {}): LocalRunSummary {
  const counts = {
    ...emptyTally(),
    found: 5,
    filtered: 2,
    filteredBy: { ...emptyTally().filteredBy, tile: 2 },
    recorded: 3,
    downloaded: 2,
    failed: 1,
    pending: 0,
    failures: { GranuleGoneError: 1 },
    bytes: 3 * 1024 ** 2,
  };
  return {
    executionName: "local-x",
    from: "2026-01-01",
    to: "2026-01-01",
    platforms: ["S2A", "S2B"],
    dataDir: "/data",
    hub: { kind: "dhus", url: "http://127.0.0.1:1234", mock: true },
    store: { dynamo: "DynamoDB Local 3.3.1", backend: "dynamodb-local" },
    failedQueries: [],
    days: [
      {
        day: "2026-01-01",
        ...counts,
        platforms: [
          { platform: "S2A", ...counts, found: 4, recorded: 2, downloaded: 2, failed: 0, failures: {} },
          {
            platform: "S2B",
            ...counts,
            found: 1,
            filtered: 0,
            filteredBy: emptyTally().filteredBy,
            recorded: 1,
            downloaded: 0,
            bytes: 0,
          },
        ],
        counts: { DISCOVERED: 0, DOWNLOADING: 0, DOWNLOADED: 2, FAILED: 1, DUPLICATE: 0 },
      },
    ],
    totals: counts,
    latency: [{ day: "2026-01-01", count: 2, p50Seconds: 1800, p95Seconds: 9000, maxSeconds: 9000 }],
    run: {
      manifest: 3,
      downloaded: 2,
      alreadyDownloaded: 0,
      leasedElsewhere: 0,
      failed: 1,
      failures: { GranuleGoneError: 1 },
      retries: 2,
      bytes: 3 * 1024 ** 2,
      wallSeconds: 4.25,
      mbPerSecond: 1.5,
    },
    nothingToDownload: false,
    releasedLeases: [],
    status: "SUCCEEDED",
    redriveCount: 0,
    output: {
      from: "2026-01-01",
      to: "2026-01-01",
      days: [],
      totals: {},
    } as unknown as LocalRunSummary["output"],
    ...overrides,
  };
}

describe("formatSummary", () => {
  it("prints each day's publication → verified-object latency p50, p95 and max", () => {
    const text = formatSummary(summary());
    expect(text).toContain("Latency publication → verified object:");
    expect(text).toMatch(/2026-01-01\s+2\s+30 min\s+2\.5 h\s+2\.5 h/);
  });

  it("says so when no granule of the window is downloaded yet", () => {
    const text = formatSummary(summary({ latency: [{ day: "2026-01-01", count: 0 }] }));
    expect(text).toContain("Latency publication → verified object: no granule downloaded yet.");
  });

  it("lists each day and platform with its failures, then this run and its throughput", () => {
    const text = formatSummary(summary());
    expect(text).toContain("mock DHUS hub at http://127.0.0.1:1234, DynamoDB Local 3.3.1");
    // day platform found filtered recorded downloaded failed pending missing bytes failures filtered-by
    expect(text).toMatch(/2026-01-01 +S2A +4 +2 +2 +2 +0 +0 +0 +3\.0 MiB +tile×2/);
    expect(text).toMatch(/2026-01-01 +S2B +1 +0 +1 +0 +1 +0 +0 +0 B +GranuleGoneError×1\n/);
    expect(text).toMatch(/total +5 +2 +3 +2 +1 +0 +0 +3\.0 MiB +GranuleGoneError×1 +tile×2/);
    expect(text).toContain(
      "This run: 3 to download, 2 downloaded (3.0 MiB), 1 failed (GranuleGoneError×1), 2 retries.",
    );
    expect(text).toContain("Wall time 4.3 s, 1.5 MB/s while downloading.");
  });

  it("says nothing was to download, how many granules already were and which failed earlier", () => {
    const text = formatSummary(
      summary({ nothingToDownload: true, totals: { ...summary().totals, downloaded: 30 } }),
    );
    expect(text).toMatch(
      /Nothing to download, 30 granules already downloaded; 1 failed in earlier runs \(GranuleGoneError×1\), not retried/,
    );
    expect(formatSummary(summary({ run: { ...summary().run, bytes: 0 } }))).toContain("Wall time 4.3 s.");
  });

  it("reports an execution its Map Run failed, with the counts and the command that redrives it", () => {
    const text = formatSummary(
      summary({
        status: "FAILED",
        error: {
          name: "States.ExceedToleratedFailureThreshold",
          message: "2 of 3 child executions failed, more than the tolerated 10%",
          state: "DownloadGranules",
        },
        mapRun: {
          stateName: "DownloadGranules",
          mapRunArn: "arn:aws:states:us-east-1:123456789012:mapRun:local/DownloadGranules:x",
          status: "FAILED",
          succeeded: 1,
          failed: 2,
          pending: 0,
        },
      }),
    );
    expect(text).toContain(
      "local-x: 2026-01-01, S2A,S2B, mock DHUS hub at http://127.0.0.1:1234, DynamoDB Local 3.3.1, FAILED",
    );
    expect(text).toContain(
      "Execution FAILED in DownloadGranules: States.ExceedToleratedFailureThreshold: 2 of 3 child executions " +
        "failed, more than the tolerated 10% (1 succeeded, 2 failed, 0 not run).",
    );
    expect(text).toContain("Redrive it once the cause is fixed: npm run ops -- redrive --local /data");
  });
});

describe("exitCodeFor", () => {
  it("fails a run that failed granules, not a rerun that only lists earlier failures", () => {
    const rerun = summary({ run: { ...summary().run, manifest: 0, downloaded: 0, failed: 0, failures: {} } });
    expect(rerun.totals.failed).toBe(1);
    expect(exitCodeFor(rerun)).toBe(EXIT.ok);
    expect(exitCodeFor(summary())).toBe(EXIT.granulesFailed);
    expect(exitCodeFor(summary({ totals: { ...rerun.totals, missing: 1 }, run: rerun.run }))).toBe(
      EXIT.granulesFailed,
    );
  });
});
