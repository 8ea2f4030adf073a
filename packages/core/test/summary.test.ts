import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../src/errors";
import type { GranuleRecord, GranuleStatus } from "../src/granule";
import { summarizeWindow } from "../src/summary";
import { makeRecord } from "./helpers/use-case-fakes";

function storeOf(records: GranuleRecord[]) {
  const store = {
    async countByStatus(day: string) {
      const counts: Partial<Record<GranuleStatus, number>> = {};
      for (const r of records) if (r.day === day) counts[r.status] = (counts[r.status] ?? 0) + 1;
      return counts;
    },
    async listByStatus(day: string, status: GranuleStatus) {
      return records.filter((r) => r.day === day && r.status === status);
    },
  };
  return store as unknown as Parameters<typeof summarizeWindow>[1]["store"];
}

describe("summarizeWindow", () => {
  it("counts each day's granules by status, failures by error name and downloaded bytes", async () => {
    const store = storeOf([
      makeRecord({ day: "2024-01-01", status: "DOWNLOADED", bytesWritten: 1000 }),
      makeRecord({ day: "2024-01-01", status: "DOWNLOADED", bytesWritten: 500 }),
      makeRecord({
        day: "2024-01-01",
        status: "FAILED",
        lastError: { name: "GranuleGoneError", message: "410" },
      }),
      makeRecord({
        day: "2024-01-01",
        status: "FAILED",
        lastError: { name: "GranuleGoneError", message: "404" },
      }),
      makeRecord({
        day: "2024-01-02",
        status: "FAILED",
        lastError: { name: "ChecksumMismatchError", message: "x" },
      }),
      makeRecord({ day: "2024-01-02", status: "DISCOVERED" }),
    ]);

    const summary = await summarizeWindow({ from: "2024-01-01", to: "2024-01-02" }, { store });

    expect(summary.days).toEqual([
      {
        day: "2024-01-01",
        counts: { DISCOVERED: 0, DOWNLOADING: 0, DOWNLOADED: 2, FAILED: 2 },
        failures: { GranuleGoneError: 2 },
        bytes: 1500,
      },
      {
        day: "2024-01-02",
        counts: { DISCOVERED: 1, DOWNLOADING: 0, DOWNLOADED: 0, FAILED: 1 },
        failures: { ChecksumMismatchError: 1 },
        bytes: 0,
      },
    ]);
    expect(summary.totals).toEqual({
      counts: { DISCOVERED: 1, DOWNLOADING: 0, DOWNLOADED: 2, FAILED: 3 },
      failures: { GranuleGoneError: 2, ChecksumMismatchError: 1 },
      bytes: 1500,
    });
  });

  it("rejects a window whose end comes before its start", async () => {
    await expect(
      summarizeWindow({ from: "2024-01-02", to: "2024-01-01" }, { store: storeOf([]) }),
    ).rejects.toThrow(InvalidInputError);
  });
});
