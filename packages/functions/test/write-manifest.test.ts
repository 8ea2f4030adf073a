import type { S3Client } from "@aws-sdk/client-s3";
import { aGranuleOfItsOwnDay } from "@hls-s2/testing/granules";
import { describe, expect, it } from "vitest";
import { configureRuntime } from "../src/lib/runtime";
import { handler } from "../src/write-manifest";
import { lambdaEnv, useLocalTable } from "./helpers/local";

const table = useLocalTable();

describe("write-manifest handler", () => {
  it("writes the window's pending granules to the work bucket under the execution's name", async () => {
    // A recording stand-in: core sends commands of its own SDK copy, which a class-matching mock would miss.
    const sent: { command: string; input: Record<string, unknown> }[] = [];
    const s3 = {
      async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
        sent.push({ command: command.constructor.name, input: command.input });
        return {};
      },
    } as unknown as S3Client;
    configureRuntime({ env: lambdaEnv(), clients: { dynamo: table.documentClient, s3 } });
    const { granule, day } = aGranuleOfItsOwnDay();
    await table.store.recordDiscovered(granule, day);

    const result = await handler({ from: day, to: day, executionName: "daily-run-1" });

    expect(result).toEqual({
      bucket: "work-bucket",
      key: "manifests/daily-run-1.json",
      count: 1,
      reconciled: 0,
    });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      command: "PutObjectCommand",
      input: { Bucket: "work-bucket", Key: "manifests/daily-run-1.json", ContentType: "application/json" },
    });
    expect(JSON.parse(sent[0]!.input["Body"] as string)).toEqual([
      { granuleId: granule.granuleId, name: granule.name, day },
    ]);
  });
});
