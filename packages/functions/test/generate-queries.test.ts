import { afterEach, describe, expect, it, vi } from "vitest";
import { handler } from "../src/generate-queries";
import { configureRuntime, resetRuntime } from "../src/lib/runtime";
import { lambdaEnv } from "./helpers/local";

afterEach(() => {
  vi.useRealTimers();
  resetRuntime();
});

describe("generate-queries handler", () => {
  it("plans the configured look-back days before today for the configured platforms on an empty event", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2024-05-10T12:00:00.000Z"));
    configureRuntime({
      env: lambdaEnv({ LOOKBACK_DAYS: "2", PLATFORMS: "S2A,S2C", DOWNLOADS_ENABLED: "false" }),
    });

    const plan = await handler({});

    expect(plan).toEqual({
      from: "2024-05-08",
      to: "2024-05-09",
      days: ["2024-05-08", "2024-05-09"],
      queries: [
        { day: "2024-05-08", platform: "S2A" },
        { day: "2024-05-08", platform: "S2C" },
        { day: "2024-05-09", platform: "S2A" },
        { day: "2024-05-09", platform: "S2C" },
      ],
      fetchLinks: true,
      downloadsEnabled: false,
      recordedSince: null,
      countWindow: true,
    });
  });

  it("plans a backfill of the given range and platforms, downloads only", async () => {
    configureRuntime({ env: lambdaEnv() });

    const plan = await handler({
      from: "2024-02-28",
      to: "2024-03-01",
      platforms: ["S2B"],
      downloadOnly: true,
    });

    expect(plan.days).toEqual(["2024-02-28", "2024-02-29", "2024-03-01"]);
    expect(plan.queries).toHaveLength(3);
    expect(plan.fetchLinks).toBe(false);
  });

  it.each([
    [{ from: "2023-02-29", to: "2023-03-01" }, "from"],
    [{ from: "2024-03-02", to: "2024-03-01" }, "from"],
    [{ from: "2024-01-01", to: "2024-02-15" }, "to"],
    [{ from: "2024-01-01", to: "2024-01-01", platforms: ["S1A"] }, "platforms"],
  ])("rejects the backfill %j with InvalidInputError on %s", async (event, field) => {
    configureRuntime({ env: lambdaEnv() });

    await expect(handler(event)).rejects.toMatchObject({ name: "InvalidInputError", field });
  });

  it("fails with ConfigError naming the key when the environment is incomplete", async () => {
    const { TABLE_NAME: _dropped, ...env } = lambdaEnv();
    configureRuntime({ env });

    await expect(handler({})).rejects.toMatchObject({
      name: "ConfigError",
      issues: [{ key: "TABLE_NAME", message: "is required" }],
    });
  });
});
