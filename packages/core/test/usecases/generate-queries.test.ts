import { describe, expect, it } from "vitest";
import { daysBetween } from "../../src/domain/day";
import { InvalidInputError } from "../../src/domain/errors";
import { planWindow } from "../../src/usecases/generate-queries";

const TODAY = new Date("2024-03-10T12:00:00.000Z");

function expectInvalid(run: () => unknown, field: string): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).field).toBe(field);
    expect((error as Error).name).toBe("InvalidInputError");
    return;
  }
  throw new Error(`expected an InvalidInputError on ${field}`);
}

describe("planWindow", () => {
  it("plans yesterday for every configured platform when the input is empty", () => {
    const plan = planWindow(
      {},
      { today: TODAY, lookbackDays: 1, platforms: ["S2A", "S2B"], downloadsEnabled: true },
    );
    expect(plan).toEqual({
      from: "2024-03-09",
      to: "2024-03-09",
      days: ["2024-03-09"],
      queries: [
        { day: "2024-03-09", platform: "S2A" },
        { day: "2024-03-09", platform: "S2B" },
      ],
      fetchLinks: true,
      downloadsEnabled: true,
      recordedSince: null,
      countWindow: true,
    });
  });

  it("covers the look-back days before today, excluding today", () => {
    const plan = planWindow({}, { today: TODAY, lookbackDays: 3, platforms: ["S2C"] });
    expect(plan.days).toEqual(["2024-03-07", "2024-03-08", "2024-03-09"]);
    expect(plan.queries).toHaveLength(3);
  });

  it("extends a download-only default window to today, where pushed granules are recorded", () => {
    const plan = planWindow({ downloadOnly: true }, { today: TODAY, lookbackDays: 1, platforms: ["S2A"] });
    expect(plan).toMatchObject({ from: "2024-03-09", to: "2024-03-10", fetchLinks: false });
    expect(plan.days).toEqual(["2024-03-09", "2024-03-10"]);
  });

  it("uses the backfill range and platforms of the input", () => {
    const plan = planWindow(
      { from: "2024-02-28", to: "2024-03-01", platforms: ["S2B"], downloadOnly: true },
      { today: TODAY, platforms: ["S2A", "S2B"], downloadsEnabled: false },
    );
    expect(plan.days).toEqual(["2024-02-28", "2024-02-29", "2024-03-01"]);
    expect(plan.queries.map((q) => q.platform)).toEqual(["S2B", "S2B", "S2B"]);
    expect(plan.fetchLinks).toBe(false);
    expect(plan.downloadsEnabled).toBe(false);
  });

  it("treats a lone from as a single day", () => {
    const plan = planWindow({ from: "2024-01-05" }, { today: TODAY });
    expect(plan.days).toEqual(["2024-01-05"]);
  });

  it("rejects a date that does not exist", () => {
    expectInvalid(() => planWindow({ from: "2023-02-29", to: "2023-03-01" }, { today: TODAY }), "from");
  });

  it("rejects a date in another format", () => {
    expectInvalid(() => planWindow({ from: "2024-01-01", to: "01/02/2024" }, { today: TODAY }), "to");
  });

  it("rejects from after to", () => {
    expectInvalid(() => planWindow({ from: "2024-03-02", to: "2024-03-01" }, { today: TODAY }), "from");
  });

  it("rejects a window longer than 31 days", () => {
    expectInvalid(() => planWindow({ from: "2024-01-01", to: "2024-02-01" }, { today: TODAY }), "to");
  });

  it("rejects a window that ends after today", () => {
    expectInvalid(() => planWindow({ from: "2024-03-10", to: "2024-03-11" }, { today: TODAY }), "to");
  });

  it("rejects an unknown platform", () => {
    expectInvalid(() => planWindow({ platforms: ["S2A", "L8"] }, { today: TODAY }), "platforms");
  });

  it("rejects a look-back of zero days", () => {
    expectInvalid(() => planWindow({}, { today: TODAY, lookbackDays: 0 }), "lookbackDays");
  });

  it("leaves the caller's options untouched", () => {
    const options = { today: TODAY };
    planWindow({}, options);
    expect(options).toEqual({ today: TODAY });
  });
});

describe("planWindow of the continuous mode", () => {
  it("polls yesterday and today, fetching links and downloading nothing", () => {
    const plan = planWindow({ poll: true }, { today: new Date("2024-03-10T09:00:00Z"), lookbackDays: 5 });
    expect(plan).toMatchObject({
      from: "2024-03-09",
      to: "2024-03-10",
      fetchLinks: true,
      downloadsEnabled: false,
      recordedSince: null,
      countWindow: true,
    });
  });

  it("carries a pushed-granules run's recordedSince, normalized, and refuses one that is no time", () => {
    const plan = planWindow(
      { downloadOnly: true, recordedSince: "2024-03-10T08:59:30Z" },
      { today: new Date("2024-03-10T09:00:00Z"), lookbackDays: 1 },
    );
    expect(plan).toMatchObject({
      from: "2024-03-09",
      to: "2024-03-10",
      recordedSince: "2024-03-10T08:59:30.000Z",
    });
    expect(() => planWindow({ downloadOnly: true, recordedSince: "soon" })).toThrow(
      expect.objectContaining({ field: "recordedSince" }),
    );
    expect(() => planWindow({ poll: true, from: "2024-03-01" })).toThrow(
      expect.objectContaining({ field: "poll" }),
    );
  });
});

describe("planWindow: which runs' Summarize counts the whole window", () => {
  it("every run but a pushed-granules run's (download-only over the default window)", () => {
    const today = new Date("2024-03-10T09:00:00Z");
    const countWindow = (input: Parameters<typeof planWindow>[0]) =>
      planWindow(input, { today, lookbackDays: 5 }).countWindow;
    expect(countWindow({ downloadOnly: true })).toBe(false);
    expect(countWindow({ downloadOnly: true, recordedSince: "2024-03-10T08:59:30Z" })).toBe(false);
    expect(countWindow({})).toBe(true);
    expect(countWindow({ poll: true })).toBe(true);
    // A requeue's run, a download-only backfill: the operator reads their counts.
    expect(countWindow({ from: "2024-03-01", to: "2024-03-02", downloadOnly: true })).toBe(true);
    expect(countWindow({ from: "2024-03-01" })).toBe(true);
  });
});

describe("daysBetween", () => {
  it("crosses month and year ends", () => {
    expect(daysBetween("2023-12-31", "2024-01-01")).toEqual(["2023-12-31", "2024-01-01"]);
  });
});
