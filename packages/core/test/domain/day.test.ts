import { describe, expect, it } from "vitest";
import { DAY_MS, daysBetween, formatDay, parseDay, yesterdayOf } from "../../src/domain/day";

describe("parseDay", () => {
  it("reads a real day as its 00:00 UTC and refuses one the calendar lacks", () => {
    expect(parseDay("2024-02-29")).toBe(Date.UTC(2024, 1, 29));
    expect(parseDay("2023-02-29")).toBeUndefined();
    expect(parseDay("2024-2-29")).toBeUndefined();
  });
});

describe("yesterdayOf", () => {
  it("is the UTC day before, across a month and a year", () => {
    expect(yesterdayOf(new Date("2025-03-01T00:30:00Z"))).toBe("2025-02-28");
    expect(yesterdayOf(new Date("2025-01-01T23:59:59Z"))).toBe("2024-12-31");
  });
});

describe("formatDay", () => {
  it("round-trips parseDay one DAY_MS at a time", () => {
    const start = parseDay("2024-12-31")!;
    expect(formatDay(start + DAY_MS)).toBe("2025-01-01");
    expect(daysBetween("2024-12-31", "2025-01-01")).toEqual(["2024-12-31", "2025-01-01"]);
  });
});
