import { AbortMultipartUploadCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { aDiscoveredGranule, aGranuleOfItsOwnDay, aUniqueDay } from "@hls-s2/testing/granules";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it, vi } from "vitest";
import { metrics } from "../src/lib/metrics";
import { configureRuntime } from "../src/lib/runtime";
import { handler } from "../src/summarize";
import { lambdaEnv, useLocalTable } from "./helpers/local";

const table = useLocalTable();
afterEach(() => vi.restoreAllMocks());

describe("summarize handler", () => {
  it("returns the window's counts and publishes them as metrics", async () => {
    configureRuntime({ env: lambdaEnv(), clients: { dynamo: table.documentClient } });
    const { granule: done, day } = aGranuleOfItsOwnDay();
    const { granule: failed } = aGranuleOfItsOwnDay();
    await table.store.recordDiscovered(done, day);
    await table.store.recordDiscovered(failed, day);
    await table.store.claimGranule(done.granuleId, "w");
    await table.store.markDownloaded(done.granuleId, "w", { s3Key: `${done.name}.zip`, bytesWritten: 4096 });
    await table.store.markFailed(failed.granuleId, { name: "GranuleGoneError", message: "410" });
    const added: [string, number][] = [];
    vi.spyOn(metrics, "addMetric").mockImplementation((name, _unit, value) => {
      added.push([name, value]);
      return metrics;
    });
    const published = vi.spyOn(metrics, "publishStoredMetrics").mockImplementation(() => metrics);

    const summary = await handler({ from: day, to: day });

    expect(summary.days).toHaveLength(1);
    expect(summary.days[0]).toMatchObject({
      day,
      counts: { DISCOVERED: 0, DOWNLOADING: 0, DOWNLOADED: 1, FAILED: 1 },
      recorded: 2,
      downloaded: 1,
      failed: 1,
      failures: { GranuleGoneError: 1 },
      bytes: 4096,
    });
    expect(added).toEqual([
      ["GranulesDownloaded", 1],
      ["GranulesFailed", 1],
      ["GranulesPending", 0],
      ["GranulesMissing", 0],
      ["GranulesFiltered", 0],
      ["BytesDownloaded", 4096],
      ["UploadsAborted", 0],
      ["QueriesFailed", 0],
      // The age safety net over recent days: this test's granules are of 2030, none is recent.
      ["UnfinishedGranules", 0],
      ["UnfinishedGranulesOld", 0],
      ["OldestUnfinishedAge", 0],
    ]);
    expect(published).toHaveBeenCalledOnce();
  });

  it("of a pushed-granules run (countWindow false) reads the window's FAILED granules only, and publishes their count", async () => {
    const s3 = new S3Client({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
    const s3Mock = mockClient(s3);
    configureRuntime({ env: lambdaEnv(), clients: { dynamo: table.documentClient, s3 } });
    const { granule: done, day } = aGranuleOfItsOwnDay();
    const { granule: failed } = aGranuleOfItsOwnDay();
    await table.store.recordDiscovered(done, day);
    await table.store.recordDiscovered(failed, day);
    await table.store.claimGranule(done.granuleId, "w");
    await table.store.markDownloaded(done.granuleId, "w", { s3Key: `${done.name}.zip`, bytesWritten: 4096 });
    await table.store.markFailed(failed.granuleId, { name: "GranuleGoneError", message: "410" });
    const added: [string, number][] = [];
    vi.spyOn(metrics, "addMetric").mockImplementation((name, _unit, value) => {
      added.push([name, value]);
      return metrics;
    });
    vi.spyOn(metrics, "publishStoredMetrics").mockImplementation(() => metrics);
    const reads: string[] = [];
    const send = table.documentClient.send.bind(table.documentClient);
    vi.spyOn(table.documentClient, "send").mockImplementation(((command: {
      constructor: { name: string };
      input: { ExpressionAttributeValues?: Record<string, unknown> };
    }) => {
      const status = command.input.ExpressionAttributeValues?.[":status"];
      reads.push(`${command.constructor.name}${status === undefined ? "" : ` ${String(status)}`}`);
      return send(command as never);
    }) as never);

    const summary = await handler({ from: day, to: day, countWindow: false });

    expect(summary).toEqual({ from: day, to: day, countWindow: false, failed: 1 });
    expect(added).toEqual([["GranulesFailed", 1]]);
    // No whole-day read (DOWNLOADED holds the day), no counters, no sweep, no delivery manifest.
    expect(new Set(reads)).toEqual(new Set(["QueryCommand FAILED"]));
    expect(s3Mock.calls()).toEqual([]);
  });

  it("aborts the upload a failed granule left, found in the table, never by listing the bucket", async () => {
    const s3 = new S3Client({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
    const s3Mock = mockClient(s3);
    s3Mock.on(AbortMultipartUploadCommand).resolves({});
    const env = lambdaEnv();
    configureRuntime({ env, clients: { dynamo: table.documentClient, s3 } });
    const { granule, day } = aGranuleOfItsOwnDay();
    await table.store.recordDiscovered(granule, day);
    await table.store.claimGranule(granule.granuleId, "w");
    const upload = {
      uploadId: "left-behind",
      key: `${granule.name}.zip`,
      parts: [],
      bytes: 0,
      hashState: "",
    };
    await table.store.saveUploadProgress(granule.granuleId, "w", upload);
    await table.store.markFailed(
      granule.granuleId,
      { name: "GranuleGoneError", message: "410" },
      { owner: "w" },
    );
    vi.spyOn(metrics, "publishStoredMetrics").mockImplementation(() => metrics);

    const summary = await handler({ from: day, to: day });

    expect(summary.sweptUploads).toEqual({ aborted: 1, failed: 0 });
    expect(s3Mock.calls().map((call) => call.args[0].constructor.name)).toEqual([
      "AbortMultipartUploadCommand",
    ]);
    expect(s3Mock.commandCalls(AbortMultipartUploadCommand)[0]!.args[0].input).toEqual({
      Bucket: env["BUCKET_NAME"],
      Key: upload.key,
      UploadId: "left-behind",
    });
    expect((await table.store.getGranule(granule.granuleId))!.upload).toBeUndefined();
  });

  it("writes a closed day's delivery manifest to the work bucket when the window ends before today", async () => {
    // Prepare: a day long closed with one delivered granule.
    const s3 = new S3Client({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
    const s3Mock = mockClient(s3);
    s3Mock.on(PutObjectCommand).resolves({});
    const env = lambdaEnv();
    configureRuntime({ env, clients: { dynamo: table.documentClient, s3 } });
    const day = aUniqueDay("2020-01-01");
    const granule = aDiscoveredGranule({ publishedAt: `${day}T09:00:00.000Z` });
    await table.store.recordDiscovered(granule, day);
    await table.store.claimGranule(granule.granuleId, "w");
    await table.store.markDownloaded(granule.granuleId, "w", {
      s3Key: `${granule.name}.zip`,
      bytesWritten: 10,
    });
    vi.spyOn(metrics, "publishStoredMetrics").mockImplementation(() => metrics);

    // Act
    const summary = await handler({ from: day, to: day });

    // Assess
    expect(summary.deliveryManifests).toEqual([{ day, key: `delivery/${day}.jsonl`, lines: 1 }]);
    const put = s3Mock.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect(put).toMatchObject({ Bucket: env["WORK_BUCKET_NAME"], Key: `delivery/${day}.jsonl` });
    expect(JSON.parse(String(put.Body))).toMatchObject({
      name: granule.name,
      key: `${granule.name}.zip`,
      bytes: 10,
    });
  });
});
