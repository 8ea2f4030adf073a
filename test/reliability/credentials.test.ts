import { runLocal } from "@hls-s2/local";
import { createCatalogue, startMockHub } from "@hls-s2/mock-hub";
import { granulesOf, reopen, SHORT_HORIZON_ENV, tempDataDir, useCleanups } from "@hls-s2/testing/data-folder";
import { describe, expect, it } from "vitest";
import { KIB, shareSynthesis, useSharedSynthesis } from "./helpers";

const DAY = "2026-03-19";
const PASSWORD = "Sup3r-S3cret-Pa55";
const CREDENTIALS = { username: "operator", password: PASSWORD };
const cleanups = useCleanups();

/** Everything the process writes to stdout and stderr while `run` runs. */
async function captureOutput<T>(run: () => Promise<T>): Promise<{ result: T; output: string }> {
  const chunks: string[] = [];
  const originals = { out: process.stdout.write, err: process.stderr.write };
  const tap =
    (original: typeof process.stdout.write) =>
    (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      return (original as (...args: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
    };
  process.stdout.write = tap(originals.out) as typeof process.stdout.write;
  process.stderr.write = tap(originals.err) as typeof process.stderr.write;
  try {
    const result = await run();
    return { result, output: chunks.join("") };
  } finally {
    process.stdout.write = originals.out;
    process.stderr.write = originals.err;
  }
}

describe("credentials", () => {
  it("never appear in logs, error messages, the granule table or the summary, even when the hub refuses them", async () => {
    // The handlers' structured logs at their most verbose: what an operator would ship to CloudWatch.
    process.env["POWERTOOLS_LOG_LEVEL"] = "DEBUG";
    const dataDir = await tempDataDir(cleanups);
    await useSharedSynthesis(dataDir);
    const catalogue = createCatalogue({
      seed: "credentials",
      days: [DAY],
      platforms: ["S2A", "S2B", "S2C"],
      granulesPerDay: 8,
      sizeBytes: 128 * KIB,
    });
    const [refused, refusedChecksum, unavailable, throttled] = catalogue.products;
    const hub = await startMockHub({
      catalogue,
      port: 0,
      host: "127.0.0.1",
      credentials: CREDENTIALS,
      faults: {
        granules: {
          [refused!.id]: { kind: "authRefused", times: Number.POSITIVE_INFINITY },
          [refusedChecksum!.id]: { kind: "authRefused", on: "checksum", times: Number.POSITIVE_INFINITY },
          [unavailable!.id]: { kind: "http5xx", times: 8 },
          [throttled!.id]: { kind: "throttle429", retryAfterSeconds: 1 },
        },
      },
    });
    cleanups.add(() => hub.close());

    const { result: summary, output } = await captureOutput(() =>
      runLocal({
        dataDir,
        dynamo: "dynalite",
        lambdaEnv: SHORT_HORIZON_ENV,
        from: DAY,
        to: DAY,
        retryDelayMs: 5,
        // The handlers' hub retries back off from 5 ms, not the deployed 500: the 5xx granule's eight
        // refused attempts and their logs stay, without ~10–20 s of backoff between them.
        hubRetryDelayMs: 5,
        hub: { kind: "dhus", url: hub.url, credentials: CREDENTIALS },
      }),
    );
    await shareSynthesis(dataDir);

    const { store } = await reopen(dataDir, cleanups);
    const granules = await granulesOf(store, DAY);
    const errors = await Promise.all(
      granules.map(async (g) => (await store.getGranule(g.granuleId))?.lastError),
    );
    expect(granules.find((g) => g.granuleId === refused!.id)?.lastError?.name).toBe("HubAuthError");
    expect(granules.find((g) => g.granuleId === refusedChecksum!.id)?.lastError?.name).toBe("HubAuthError");
    // The logs were on: a test that captured nothing would prove nothing.
    expect(output.length).toBeGreaterThan(1000);
    const basic = Buffer.from(`${CREDENTIALS.username}:${PASSWORD}`).toString("base64");
    const everything = [
      output,
      JSON.stringify(errors),
      JSON.stringify(granules),
      JSON.stringify(summary),
    ].join("\n");
    for (const secret of [PASSWORD, basic, encodeURIComponent(PASSWORD)]) {
      expect(everything.includes(secret), secret).toBe(false);
    }
  }, 60_000);
});
