import { type DayReport, type DeliveryLine, deliveryManifestKey } from "@hls-s2/core/usecases";
import { buildCatalogue, loadSynthesizedWorkflow, runLocal } from "@hls-s2/local";
import { EXIT, main } from "@hls-s2/ops/cli";
import { objectMd5, reopen, SHORT_HORIZON_ENV, tempDataDir, useCleanups } from "@hls-s2/testing/data-folder";
import { beforeAll, describe, expect, it } from "vitest";

// Issue 24's completeness report after a local run: `ops report --day D --local DIR`. The run's
// Summarize (its window ends before today) wrote the day's delivery manifest; the hub's count is the
// one its searches read after the day closed.
const DAY = "2026-03-16";
const cleanups = useCleanups();

beforeAll(async () => {
  await loadSynthesizedWorkflow();
});

function captureIo() {
  const out = { stdout: "", stderr: "" };
  return {
    out,
    io: {
      stdout: { write: (text: string) => (out.stdout += text) },
      stderr: { write: (text: string) => (out.stderr += text) },
    },
  };
}

describe("ops report --local after a local run", () => {
  it("shows both equations holding, names the duplicates and the withdrawn, and a manifest of exactly the bucket's objects", async () => {
    // Prepare: a small day on HLS's tiles (one product in ten is filtered by tile), some names published
    // twice (duplicates), and one product the hub answers 410 for (withdrawn).
    const dataDir = await tempDataDir(cleanups, "hls-s2-report-");
    const params = { seed: "e2e-report", granulesPerDay: 14, productSize: 64 * 1024 };
    const duplicateNames = 0.2;
    const catalogue = buildCatalogue(params, [DAY], duplicateNames);
    const gone = catalogue.products.find((product) => !product.name.startsWith("S2C"))!;
    await runLocal({
      dataDir,
      // Not a test of DynamoDB Local: dynalite starts in a fraction of its JVM's seconds, and the
      // report and reopen below take the folder's own stand-in.
      dynamo: "dynalite",
      lambdaEnv: SHORT_HORIZON_ENV,
      from: DAY,
      to: DAY,
      ...params,
      concurrency: 4,
      retryDelayMs: 5,
      faults: { duplicateNames, granules: { [gone.id]: { kind: "gone", status: 410 } } },
    });

    // Act
    const json = captureIo();
    const text = captureIo();
    const jsonCode = await main(["report", "--local", dataDir, "--day", DAY, "--json"], json.io);
    const textCode = await main(["report", "--local", dataDir, "--day", DAY], text.io);

    // Assess: the two equations hold, per the JSON and the text.
    expect(jsonCode, json.out.stderr).toBe(EXIT.ok);
    expect(textCode, text.out.stderr).toBe(EXIT.ok);
    const report = JSON.parse(json.out.stdout) as DayReport;
    expect(report.found).toEqual({ holds: true });
    expect(report.recorded).toEqual({ holds: true });
    const { totals } = report;
    expect(totals.hubCount).toBe(catalogue.products.length);
    expect(totals.found).toBe(totals.filtered + totals.recorded);
    expect(totals.recorded).toBe(totals.delivered + totals.failed + totals.pending + totals.duplicates);
    expect(totals.filtered).toBeGreaterThan(0);
    expect(report.duplicates.length).toBeGreaterThan(0);
    expect(report.withdrawn).toEqual([{ granuleId: gone.id, name: gone.name, platform: gone.platform }]);
    expect(text.out.stdout).toMatch(/found \d+ = filtered \d+ \+ recorded \d+; the hub lists \d+ .*: holds/);
    expect(text.out.stdout).toMatch(
      /recorded \d+ = delivered \d+ \+ failed 1 \+ pending 0 \+ duplicates \d+: holds/,
    );
    expect(text.out.stdout).toContain(`withdrawn ${gone.name}`);
    expect(text.out.stdout).toContain(`s3://hls-s2-work/${deliveryManifestKey(DAY)}`);

    // The delivery manifest lists exactly the objects in the upload bucket, each with its MD5 and size.
    const { stores } = await reopen(dataDir, cleanups);
    const manifest = String(await stores.readObject(deliveryManifestKey(DAY), stores.workBucketName));
    const lines = manifest
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as DeliveryLine);
    const objects = await stores.listKeys();
    expect(lines.map((line) => line.key)).toEqual(objects);
    expect(report.manifest).toMatchObject({ lines: objects.length, matchesDelivered: true });
    expect(objects).toHaveLength(totals.delivered);
    for (const line of lines) {
      expect(await objectMd5(stores, line.key)).toBe(line.md5);
      expect((await stores.readObject(line.key))!.length).toBe(line.bytes);
      expect(line.publishedAt.slice(0, 10)).toBe(DAY);
      expect(Date.parse(line.deliveredAt)).toBeGreaterThan(Date.parse(line.publishedAt));
    }
  }, 120_000);
});
