import { InvalidInputError } from "@hls-s2/core/errors";
import { describe, expect, it } from "vitest";
import { parseLiveCli } from "../../src/live/cli";
import { idealLiveDay } from "../../src/live/day";

describe("npm run local -- --live: its flags", () => {
  it("scales the hub's rate per connection and the products by the clock and the size scale", () => {
    // Act
    const { options, ideal } = parseLiveCli(
      ["--speed", "10", "--mb-per-second", "60", "--size-scale", "1000"],
      "/d",
    );

    // Assess: 60 MB/s × 10 / 1,000; products of 50–800 MB served 1,000 times smaller.
    expect(ideal).toBe(false);
    expect(options).toMatchObject({
      speed: 10,
      bytesPerSecond: 600_000,
      sizeBytes: { min: 50_000, max: 800_000 },
    });
    expect(options).toMatchObject({
      granules: 13_000,
      pushShare: 0.95,
      hubDownloads: 4,
      pollMinutes: 5,
    });
  });

  it("plays an hour of the day at 5× by default: 12 real minutes in which the local stand-ins keep up", () => {
    expect(parseLiveCli([], "/d").options).toMatchObject({ speed: 5, dayShare: 1 / 24 });
  });

  it("refuses a flag out of range, naming it", () => {
    expect(() => parseLiveCli(["--push-share", "1.5"], "/d")).toThrow(InvalidInputError);
    expect(() => parseLiveCli(["--push-share", "1.5"], "/d")).toThrow(/--push-share/);
    expect(() => parseLiveCli(["--nope"], "/d")).toThrow(InvalidInputError);
  });

  it("--ideal gives the bound of the day and hub: a faster hub or more connections never make it worse", () => {
    // Prepare: two simulated hours of a 13,000-granule day.
    const at = (flags: string[]) =>
      idealLiveDay(parseLiveCli(["--ideal", "--hours", "2", ...flags], "/d").options);

    // Act
    const general = at(["--mb-per-second", "20"]);
    const faster = at(["--mb-per-second", "60"]);
    const wider = at(["--mb-per-second", "20", "--hub-downloads", "15"]);
    const pollOnly = at(["--mb-per-second", "60", "--push-share", "0"]);

    // Assess
    expect(faster.p95!).toBeLessThan(general.p95!);
    expect(wider.p95!).toBeLessThan(general.p95!);
    // Without pushes a product waits for the next 5-minute poll.
    expect(pollOnly.p50!).toBeGreaterThan(faster.p50!);
  });
});
