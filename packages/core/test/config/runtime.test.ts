import { describe, expect, it } from "vitest";
import { CONFIG_KEYS, loadTileAllowList, parseConfig } from "../../src/config/runtime";
import { ConfigError } from "../../src/domain/errors";

function minimalEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    TABLE_NAME: "granules",
    BUCKET_NAME: "upload-bucket",
    WORK_BUCKET_NAME: "work-bucket",
    HUB_KIND: "dhus",
    HUB_URL: "https://hub.example.test/",
    ...overrides,
  };
}

function issuesOf(env: Record<string, string | undefined>) {
  try {
    parseConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error("parseConfig accepted the environment");
}

describe("parseConfig", () => {
  it("fills every default from a minimal environment", () => {
    expect(parseConfig(minimalEnv())).toEqual({
      stage: "local",
      tableName: "granules",
      bucketName: "upload-bucket",
      workBucketName: "work-bucket",
      objectPrefix: "",
      hubKind: "dhus",
      hubUrl: "https://hub.example.test",
      platforms: ["S2A", "S2B", "S2C"],
      pushEnabled: false,
      lookbackDays: 5,
      maxAcquisitionAgeDays: 30,
      reconciliationHorizonDays: 7,
      unfinishedAgeAlarmHours: 48,
      maxAttempts: 5,
      leaseSeconds: 900,
      partSizeMib: 64,
      partQueueSize: 1,
      downloadsEnabled: true,
      zipCheck: true,
      verifyWithoutChecksum: false,
      searchPageSize: 100,
      fetchTimeBudgetSeconds: 600,
      uploadBucketListable: false,
      hubMaxJsonBytes: 8 * 1024 * 1024,
      downloadMinBytesPerSecond: 65_536,
      downloadFloorWindowSeconds: 60,
      hubDownloadSlots: 15,
    });
  });

  it("reads the stage that dimensions every metric, and refuses one that is no stage name", () => {
    expect(parseConfig(minimalEnv({ STAGE: "prod" })).stage).toBe("prod");
    expect(issuesOf(minimalEnv({ STAGE: "prod/eu" }))).toEqual([
      { key: "STAGE", message: expect.stringContaining("stage name") },
    ]);
  });

  it("asks CDSE for 1,000 entries a page and DHuS for 100 unless SEARCH_PAGE_SIZE says otherwise", () => {
    expect(parseConfig(minimalEnv({ HUB_KIND: "cdse" })).searchPageSize).toBe(1000);
    expect(parseConfig(minimalEnv({ HUB_KIND: "dhus" })).searchPageSize).toBe(100);
    expect(parseConfig(minimalEnv({ HUB_KIND: "cdse", SEARCH_PAGE_SIZE: "250" })).searchPageSize).toBe(250);
    expect(issuesOf(minimalEnv({ HUB_KIND: "dhus", SEARCH_PAGE_SIZE: "500" }))).toEqual([
      { key: "SEARCH_PAGE_SIZE", message: expect.stringContaining("at most 100 with HUB_KIND dhus") },
    ]);
  });

  it("reads the hostile-hub bounds and accepts any Sentinel-2 platform letter", () => {
    const config = parseConfig(
      minimalEnv({
        HUB_MAX_JSON_BYTES: "1048576",
        DOWNLOAD_MIN_BYTES_PER_SECOND: "0",
        DOWNLOAD_FLOOR_WINDOW_SECONDS: "30",
        PLATFORMS: "S2C,S2D",
      }),
    );
    expect(config).toMatchObject({
      hubMaxJsonBytes: 1_048_576,
      downloadMinBytesPerSecond: 0,
      downloadFloorWindowSeconds: 30,
      platforms: ["S2C", "S2D"],
    });
    expect(issuesOf(minimalEnv({ HUB_MAX_JSON_BYTES: "100" }))[0]?.key).toBe("HUB_MAX_JSON_BYTES");
    expect(issuesOf(minimalEnv({ PLATFORMS: "S2a" }))[0]?.key).toBe("PLATFORMS");
  });

  it("parses every optional key", () => {
    const config = parseConfig(
      minimalEnv({
        OBJECT_PREFIX: "incoming/",
        HUB_KIND: "cdse",
        DOWNLOAD_HUB_URL: "http://127.0.0.1:8080",
        HUB_SECRET_ID: "hub-secret",
        DOWNLOAD_HUB_SECRET_ID: "download-secret",
        CDSE_TOKEN_URL: "https://identity.example.test/token",
        PLATFORMS: "S2B, S2A,S2B",
        LOOKBACK_DAYS: "3",
        MAX_ACQUISITION_AGE_DAYS: "10",
        TILE_ALLOW_LIST: "T32TQM, 33uup",
        MAX_ATTEMPTS: "7",
        LEASE_SECONDS: "600",
        PART_SIZE_MIB: "8",
        PART_QUEUE_SIZE: "2",
        DOWNLOADS_ENABLED: "0",
        SEARCH_PAGE_SIZE: "1000",
        FETCH_TIME_BUDGET_SECONDS: "300",
        BUCKET_REGION: "eu-central-1",
      }),
    );

    expect(config).toMatchObject({
      objectPrefix: "incoming/",
      hubKind: "cdse",
      downloadHubUrl: "http://127.0.0.1:8080",
      hubSecretId: "hub-secret",
      downloadHubSecretId: "download-secret",
      cdseTokenUrl: "https://identity.example.test/token",
      platforms: ["S2B", "S2A"],
      lookbackDays: 3,
      maxAcquisitionAgeDays: 10,
      maxAttempts: 7,
      leaseSeconds: 600,
      partSizeMib: 8,
      partQueueSize: 2,
      downloadsEnabled: false,
      searchPageSize: 1000,
      fetchTimeBudgetSeconds: 300,
      bucketRegion: "eu-central-1",
    });
    expect([...(config.tileAllowList ?? [])]).toEqual(["32TQM", "33UUP"]);
  });

  it.each([
    ["true", true],
    ["TRUE", true],
    ["1", true],
    ["false", false],
    ["0", false],
  ])("reads DOWNLOADS_ENABLED=%s as %s", (value, expected) => {
    expect(parseConfig(minimalEnv({ DOWNLOADS_ENABLED: value })).downloadsEnabled).toBe(expected);
  });

  it("treats blank values as unset", () => {
    const config = parseConfig(minimalEnv({ LOOKBACK_DAYS: "", DOWNLOAD_HUB_URL: " ", TILE_ALLOW_LIST: "" }));
    expect(config.lookbackDays).toBe(5);
    expect(config).not.toHaveProperty("downloadHubUrl");
    expect(config).not.toHaveProperty("tileAllowList");
  });

  it.each([
    ["TABLE_NAME", undefined, /required/],
    ["BUCKET_NAME", "", /required/],
    ["WORK_BUCKET_NAME", undefined, /required/],
    ["HUB_KIND", "scihub", /dhus, cdse/],
    ["HUB_URL", "ftp://hub.example.test", /http/],
    ["DOWNLOAD_HUB_URL", "not a url", /http/],
    ["CDSE_TOKEN_URL", "file:///etc/passwd", /http/],
    ["PLATFORMS", "S2A,S3A", /S2A, S2B, S2C/],
    ["LOOKBACK_DAYS", "0", /at least 1/],
    ["LOOKBACK_DAYS", "31", /at most 30/],
    ["MAX_ACQUISITION_AGE_DAYS", "thirty", /integer/],
    ["TILE_ALLOW_LIST", "32TQM,../etc", /\.\.\/etc/],
    ["MAX_ATTEMPTS", "2.5", /integer/],
    ["LEASE_SECONDS", "10", /at least/],
    ["PART_SIZE_MIB", "4", /at least 5/],
    ["PART_QUEUE_SIZE", "9", /at most 8/],
    ["DOWNLOADS_ENABLED", "yes", /true, false, 1 or 0/],
    ["SEARCH_PAGE_SIZE", "-1", /at least 1/],
    ["FETCH_TIME_BUDGET_SECONDS", "5000", /at most/],
    ["BUCKET_REGION", "Oregon", /AWS region/],
  ])("names %s when it is %s", (key, value, message) => {
    const issues = issuesOf(minimalEnv({ [key]: value }));
    expect(issues).toEqual([{ key, message: expect.stringMatching(message) }]);
  });

  it("names every bad key at once", () => {
    const issues = issuesOf({ HUB_KIND: "dhus", HUB_URL: "nope", PART_SIZE_MIB: "1", PLATFORMS: "S9Z" });

    expect(issues.map((issue) => issue.key).sort()).toEqual(
      ["BUCKET_NAME", "HUB_URL", "PART_SIZE_MIB", "PLATFORMS", "TABLE_NAME", "WORK_BUCKET_NAME"].sort(),
    );
  });

  it("refuses a tile list and a tile list file together", () => {
    const issues = issuesOf(minimalEnv({ TILE_ALLOW_LIST: "32TQM", TILE_ALLOW_LIST_FILE: "/opt/tiles.txt" }));
    expect(issues).toEqual([{ key: "TILE_ALLOW_LIST_FILE", message: expect.stringMatching(/either/) }]);
  });

  it("keeps the tile list file path for the caller to read", () => {
    expect(parseConfig(minimalEnv({ TILE_ALLOW_LIST_FILE: "/opt/tiles.txt" })).tileAllowListFile).toBe(
      "/opt/tiles.txt",
    );
  });

  it("ignores unrelated environment variables and lists every key it reads", () => {
    expect(() => parseConfig(minimalEnv({ AWS_REGION: "eu-west-1", PATH: "/bin" }))).not.toThrow();
    expect(CONFIG_KEYS).toContain("TILE_ALLOW_LIST_FILE");
    expect(new Set(CONFIG_KEYS).size).toBe(CONFIG_KEYS.length);
  });
});

describe("loadTileAllowList", () => {
  it("reads one tile per line with comments, blank lines and optional T", () => {
    const text = "# HLS tiles\n32TQM\n\nT33UUP   # Alps\r\n01cdh\n32TQM\n";
    expect([...loadTileAllowList(text)]).toEqual(["32TQM", "33UUP", "01CDH"]);
  });

  it("names the bad lines", () => {
    expect(() => loadTileAllowList("32TQM\n99ZZZ\n")).toThrow(/TILE_ALLOW_LIST_FILE.*line 2.*99ZZZ/);
  });

  it("refuses a file without tiles", () => {
    expect(() => loadTileAllowList("# nothing yet\n")).toThrow(ConfigError);
  });
});
