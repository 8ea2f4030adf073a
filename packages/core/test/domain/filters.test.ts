import { aDiscoveredGranule } from "@hls-s2/testing/granules";
import { describe, expect, it } from "vitest";
import { isValidDay } from "../../src/domain/day";
import { InvalidHubDataError, InvalidInputError } from "../../src/domain/errors";
import {
  assertSafeProductName,
  evaluateGranule,
  isRfc3339Timestamp,
  normalizeMd5,
  normalizeTileId,
  PRODUCT_NAME_PATTERN,
  parseProductName,
  quoteValue,
} from "../../src/domain/filters";

const NAME = "S2A_MSIL1C_20240101T101419_N0510_R022_T32TQM_20240101T105935";

describe("PRODUCT_NAME_PATTERN", () => {
  it.each([
    NAME,
    `${NAME}.SAFE`,
    "S2B_MSIL1C_20231231T235959_N0509_R143_T01CDH_20240101T000512",
    "S2C_MSIL1C_20250301T083751_N0511_R064_T60XWR_20250301T102101",
    "S2D_MSIL1C_20270301T083751_N0600_R001_T35VLG_20270301T102101",
  ])("matches %s", (name) => {
    expect(PRODUCT_NAME_PATTERN.test(name)).toBe(true);
  });

  it.each([
    ["another mission", "S1A_MSIL1C_20240101T101419_N0510_R022_T32TQM_20240101T105935"],
    ["a short tile", "S2A_MSIL1C_20240101T101419_N0510_R022_T32TQ_20240101T105935"],
    ["a trailing newline", `${NAME}\n`],
    ["another extension", `${NAME}.zip`],
    ["a prefix", `x${NAME}`],
  ])("rejects %s", (_, name) => {
    expect(PRODUCT_NAME_PATTERN.test(name)).toBe(false);
  });

  it("splits a name into its parts", () => {
    expect(parseProductName(`${NAME}.SAFE`)).toEqual({
      mission: "S2A",
      level: "L1C",
      sensingTime: "20240101T101419",
      baseline: "0510",
      relativeOrbit: "022",
      tileId: "32TQM",
      discriminator: "20240101T105935",
    });
    expect(parseProductName("nope")).toBeUndefined();
  });
});

describe("assertSafeProductName", () => {
  it("returns the name without .SAFE", () => {
    expect(assertSafeProductName(`${NAME}.SAFE`)).toBe(NAME);
    expect(assertSafeProductName(NAME)).toBe(NAME);
  });

  it.each([
    ["../", `../${NAME}`, /"\.\."/],
    ["/", `a/${NAME}`, /path separator/],
    ["\\", `a\\${NAME}`, /path separator/],
    ["whitespace", `${NAME} `, /whitespace/],
    ["a non-string", 42, /not a string/],
  ])("throws InvalidHubDataError for %s, naming the value", (_, name, why) => {
    const attempt = () => assertSafeProductName(name, { granuleId: "g-1" });
    expect(attempt).toThrow(InvalidHubDataError);
    expect(attempt).toThrow(why);
    expect(attempt).toThrow(/granule g-1/);
  });

  it("names a value that merely breaks the convention", () => {
    expect(() => assertSafeProductName("S2A_MSIL1C_garbage")).toThrow(/"S2A_MSIL1C_garbage" does not follow/);
  });
});

describe("evaluateGranule", () => {
  const rules = { maxAcquisitionAgeDays: 30, day: "2024-03-01" };

  it("accepts a Level-1C granule when no allow-list is given", () => {
    expect(evaluateGranule(aDiscoveredGranule({ sensingStart: "2024-02-28T10:00:00.000Z" }), rules)).toEqual({
      accepted: true,
    });
  });

  it("rejects another product type", () => {
    const granule = aDiscoveredGranule({
      sensingStart: "2024-02-28T10:00:00.000Z",
      name: "S2A_MSIL2A_20240228T100000_N0510_R022_T32TQM_20240228T120000",
    });
    expect(evaluateGranule(granule, rules)).toMatchObject({ accepted: false, reason: /Level-1C/ });
  });

  it("matches allow-list tiles with or without the leading T", () => {
    const sensingStart = "2024-02-28T10:00:00.000Z";
    const plain = aDiscoveredGranule({ tileId: "32TQM", sensingStart });
    const prefixed = aDiscoveredGranule({ tileId: "T32TQM", sensingStart });
    const other = aDiscoveredGranule({ tileId: "33UUP", sensingStart });

    for (const tiles of [new Set(["32TQM"]), new Set(["T32TQM"])]) {
      expect(evaluateGranule(plain, { ...rules, tiles }).accepted).toBe(true);
      expect(evaluateGranule(prefixed, { ...rules, tiles }).accepted).toBe(true);
      expect(evaluateGranule(other, { ...rules, tiles })).toMatchObject({ accepted: false, reason: /33UUP/ });
    }
  });

  it("accepts an acquisition exactly at the age cut-off and rejects one a millisecond older", () => {
    // 30 days before 2024-03-01T00:00Z (a leap year) is 2024-01-31T00:00Z.
    const atCutoff = aDiscoveredGranule({ sensingStart: "2024-01-31T00:00:00.000Z" });
    const older = aDiscoveredGranule({ sensingStart: "2024-01-30T23:59:59.999Z" });

    expect(evaluateGranule(atCutoff, rules)).toEqual({ accepted: true });
    expect(evaluateGranule(older, rules)).toMatchObject({ accepted: false, reason: /more than 30 days/ });
  });

  it("rejects a platform that is not enabled", () => {
    const granule = aDiscoveredGranule({ platform: "S2C", sensingStart: "2024-02-28T10:00:00.000Z" });
    expect(evaluateGranule(granule, { ...rules, platforms: ["S2A", "S2B"] })).toMatchObject({
      accepted: false,
      reason: /S2C/,
    });
    expect(evaluateGranule(granule, { ...rules, platforms: ["S2C"] }).accepted).toBe(true);
  });

  it("rejects an unparseable sensing start", () => {
    expect(evaluateGranule(aDiscoveredGranule({ sensingStart: "yesterday" }), rules)).toMatchObject({
      accepted: false,
      reason: /not a timestamp/,
    });
  });

  it("throws InvalidInputError on a malformed day", () => {
    expect(() => evaluateGranule(aDiscoveredGranule(), { ...rules, day: "2024-13-01" })).toThrow(
      InvalidInputError,
    );
  });
});

describe("normalizeTileId", () => {
  it("accepts MGRS ids with or without T and rejects the rest", () => {
    expect(normalizeTileId("t32tqm")).toBe("32TQM");
    expect(normalizeTileId("01CDH")).toBe("01CDH");
    expect(normalizeTileId("61TQM")).toBeUndefined();
    expect(normalizeTileId("32IQM")).toBeUndefined();
    expect(normalizeTileId("32TQ")).toBeUndefined();
  });
});

describe("normalizeMd5", () => {
  it("lowercases a 32-character hex digest", () => {
    expect(normalizeMd5(" 0123456789ABCDEFabcdef0123456789 ")).toBe("0123456789abcdefabcdef0123456789");
  });

  it.each([
    ["non-hex", "0123456789abcdefabcdef012345678g"],
    ["too short", "0123456789abcdef"],
    ["too long", "0123456789abcdefabcdef01234567890"],
    ["not a string", 12345],
  ])("throws InvalidHubDataError when %s", (_, value) => {
    expect(() => normalizeMd5(value, { granuleId: "g-2" })).toThrow(InvalidHubDataError);
    expect(() => normalizeMd5(value, { granuleId: "g-2" })).toThrow(/g-2/);
  });
});

describe("isValidDay", () => {
  it.each([
    ["2024-02-29", true],
    ["2023-02-29", false],
    ["2024-13-01", false],
    ["2024-1-01", false],
    ["2024-01-01T00:00:00Z", false],
  ])("judges %s as %s", (day, expected) => {
    expect(isValidDay(day)).toBe(expected);
  });
});

describe("aDiscoveredGranule", () => {
  it("builds names that follow the convention for the granule's own platform and tile", () => {
    const granule = aDiscoveredGranule({ platform: "S2C", tileId: "T01CDH" });
    expect(parseProductName(assertSafeProductName(granule.name))).toMatchObject({
      mission: "S2C",
      level: "L1C",
      tileId: "01CDH",
    });
    expect(aDiscoveredGranule().name).not.toBe(aDiscoveredGranule().name);
  });
});

describe("quoteValue", () => {
  it("quotes a short value whole and cuts a long one to 100 characters, saying its length", () => {
    expect(quoteValue("S2A")).toBe('"S2A"');
    expect(quoteValue(42)).toBe('"42"');
    expect(quoteValue("y".repeat(200_000))).toBe(`"${"y".repeat(100)}…" (200000 characters)`);
  });
});

describe("isRfc3339Timestamp", () => {
  it("accepts date-times with Z or a numeric offset, in either case", () => {
    for (const value of ["2026-06-01T10:00:00Z", "2026-06-01T10:00:00.123+02:00", "2026-06-01t10:00:00z"]) {
      expect(isRfc3339Timestamp(value), value).toBe(true);
    }
  });

  it("refuses a bare number, a date alone, no time zone, an impossible day or another shape", () => {
    for (const value of [
      "1",
      "9999-12-31",
      "2026-06-01T10:00:00",
      "2026-02-30T10:00:00Z",
      "2026-06-01T24:00:00Z",
      "2026-06-01 10:00:00Z extra",
      "Mon, 01 Jun 2026 10:00:00 GMT",
      `2026-06-01T10:00:00.${"1".repeat(200_000)}Z`,
    ]) {
      expect(isRfc3339Timestamp(value), value).toBe(false);
    }
  });
});
