import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetParametersByPathCommand, SSMClient } from "@aws-sdk/client-ssm";
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { DayReport } from "@hls-s2/core/usecases";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { EXIT, main } from "../src/cli";
import { stageParameters } from "./helpers/aws";
import { captureIo } from "./helpers/io";

// `ops report --stage`: the table and the work bucket the stage's SSM parameters name. (The local
// form, after a real local run, is test/e2e/report.test.ts.)
const ssm = mockClient(SSMClient);
const dynamo = mockClient(DynamoDBDocumentClient);
const s3 = mockClient(S3Client);

afterEach(() => {
  ssm.reset();
  dynamo.reset();
  s3.reset();
});

describe("ops report --stage", () => {
  it("reads the day's delivery manifest from the stage's work bucket, yesterday by default", async () => {
    // Prepare: an empty day (no granule, no counter) and no manifest written yet.
    ssm.on(GetParametersByPathCommand).resolves({ Parameters: stageParameters("prod") });
    dynamo.on(QueryCommand).resolves({ Items: [] });
    dynamo.on(GetCommand).resolves({});
    s3.on(GetObjectCommand).rejects(
      Object.assign(new Error("The specified key does not exist."), { name: "NoSuchKey" }),
    );
    const json = captureIo();
    const text = captureIo();

    // Act
    const jsonCode = await main(["report", "--stage", "prod", "--json"], json.io);
    const textCode = await main(["report", "--stage", "prod"], text.io);

    // Assess
    expect(jsonCode, json.out.stderr).toBe(EXIT.ok);
    expect(textCode, text.out.stderr).toBe(EXIT.ok);
    const report = JSON.parse(json.out.stdout) as DayReport;
    expect(report).toMatchObject({
      day: "2025-05-31",
      closed: true,
      found: { holds: true },
      recorded: { holds: true },
      manifest: {
        bucket: "prod-work",
        key: "delivery/2025-05-31.jsonl",
        uri: "s3://prod-work/delivery/2025-05-31.jsonl",
      },
    });
    expect(report.manifest.lines).toBeUndefined();
    expect(s3.commandCalls(GetObjectCommand)[0]!.args[0].input).toEqual({
      Bucket: "prod-work",
      Key: "delivery/2025-05-31.jsonl",
    });
    expect(text.out.stdout).toContain("Completeness of 2025-05-31 (stage prod");
    expect(text.out.stdout).toContain(
      "delivery manifest s3://prod-work/delivery/2025-05-31.jsonl: not written yet",
    );
  });

  it("refuses a day that is not a date, naming --day", async () => {
    const { out, io } = captureIo();
    ssm.on(GetParametersByPathCommand).resolves({ Parameters: stageParameters("prod") });

    expect(await main(["report", "--stage", "prod", "--day", "2025-02-30"], io)).toBe(EXIT.usage);
    expect(out.stderr).toContain("error (--day)");
  });
});
