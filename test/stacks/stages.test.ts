import { readFileSync } from "node:fs";
import path from "node:path";
import { loadTileAllowList } from "@hls-s2/core/config";
import { ConfigError } from "@hls-s2/core/errors";
import { beforeAll, describe, expect, it } from "vitest";
import { resolveStageSettings } from "../../stacks/settings";
import { functionId, resourcesOfType } from "./helpers";
import { REPO_ROOT, type SynthesizedApp, synthesizeApp } from "./synthesized";

let prod: SynthesizedApp;
let scheduledTest: SynthesizedApp;

beforeAll(async () => {
  prod = await synthesizeApp({ stage: "prod", settings: { alarmEmail: "ops@example.org" } });
  scheduledTest = await synthesizeApp({
    stage: "test",
    settings: {
      scheduleEnabled: true,
      uploadBucketName: "existing-hls-upload-bucket",
      tileAllowListFile: "config/tiles.example.txt",
    },
  });
});

describe("storage", () => {
  it("creates the granule table on demand with the sharded day/status index and point-in-time recovery", () => {
    const [, table] = resourcesOfType(prod.templates.Storage, "AWS::DynamoDB::Table")[0]!;
    expect(table.Properties).toMatchObject({
      BillingMode: "PAY_PER_REQUEST",
      KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      GlobalSecondaryIndexes: [
        {
          IndexName: "byDayShardStatus",
          KeySchema: [
            { AttributeName: "dayShard", KeyType: "HASH" },
            { AttributeName: "status", KeyType: "RANGE" },
          ],
        },
      ],
    });
  });

  it("blocks public access to the upload bucket, denies plain HTTP and aborts incomplete multipart uploads", () => {
    const template = prod.templates.Storage!;
    const [uploadId, upload] = resourcesOfType(template, "AWS::S3::Bucket").find(([id]) =>
      id.startsWith("UploadBucket"),
    )!;
    expect(upload.Properties).toMatchObject({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
      LifecycleConfiguration: {
        Rules: [{ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 }, Status: "Enabled" }],
      },
    });
    const [, policy] = resourcesOfType(template, "AWS::S3::BucketPolicy").find(
      ([, resource]) => (resource.Properties?.Bucket as { Ref?: string } | undefined)?.Ref === uploadId,
    )!;
    expect(
      (policy.Properties?.PolicyDocument as { Statement: unknown[] } | undefined)?.Statement,
    ).toContainEqual(
      expect.objectContaining({
        Effect: "Deny",
        Action: "s3:*",
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      }),
    );
  });

  it("expires work objects after 30 days", () => {
    const [, work] = resourcesOfType(prod.templates.Storage, "AWS::S3::Bucket").find(([id]) =>
      id.startsWith("WorkBucket"),
    )!;
    expect(
      (work.Properties?.LifecycleConfiguration as { Rules: unknown[] } | undefined)?.Rules,
    ).toContainEqual(expect.objectContaining({ ExpirationInDays: 30, Status: "Enabled" }));
  });

  it("retains the table, buckets and secret on prod", () => {
    const template = prod.templates.Storage!;
    const data = [
      ...resourcesOfType(template, "AWS::DynamoDB::Table"),
      ...resourcesOfType(template, "AWS::S3::Bucket"),
      ...resourcesOfType(template, "AWS::SecretsManager::Secret"),
    ];
    expect(data).toHaveLength(4);
    for (const [, resource] of data) expect(resource.DeletionPolicy).toBe("Retain");
  });

  it("destroys data on other stages and imports the upload bucket by name when one is given", () => {
    const template = scheduledTest.templates.Storage!;
    const buckets = resourcesOfType(template, "AWS::S3::Bucket");
    expect(buckets.map(([id]) => id).filter((id) => id.startsWith("UploadBucket"))).toEqual([]);
    for (const [, resource] of [...buckets, ...resourcesOfType(template, "AWS::DynamoDB::Table")]) {
      expect(resource.DeletionPolicy).toBe("Delete");
    }
    const outputs = template.Outputs as Record<string, { Value: unknown }>;
    expect(outputs.UploadBucketName?.Value).toBe("existing-hls-upload-bucket");
  });

  it("creates the hub credential secret with a placeholder, never a real value", () => {
    const [, secret] = resourcesOfType(prod.templates.Storage, "AWS::SecretsManager::Secret")[0]!;
    expect(secret.Properties?.SecretString).toBeUndefined();
    expect(secret.Properties?.GenerateSecretString).toMatchObject({
      SecretStringTemplate: JSON.stringify({ username: "REPLACE_ME" }),
      GenerateStringKey: "password",
    });
  });
});

describe("stages", () => {
  it("schedules the daily run at 12:00 UTC with an empty input when the stage enables it", () => {
    const [, rule] = resourcesOfType(scheduledTest.templates.Schedule, "AWS::Events::Rule")[0]!;
    expect(rule.Properties).toMatchObject({
      ScheduleExpression: "cron(0 12 * * ? *)",
      State: "ENABLED",
      Targets: [expect.objectContaining({ Input: "{}" })],
    });
    // The daily run and the age report.
    expect(resourcesOfType(prod.templates.Schedule, "AWS::Events::Rule")).toHaveLength(2);
  });

  it("deploys the mock hub behind a function URL on test stages and never on prod", () => {
    const [, url] = resourcesOfType(scheduledTest.templates.MockHub, "AWS::Lambda::Url")[0]!;
    expect(url.Properties?.AuthType).toBe("NONE");
    expect(prod.templates.MockHub).toBeUndefined();
    // The one public URL of prod is the continuous mode's push endpoint, in the Push stack.
    const prodUrls = Object.entries(prod.templates).flatMap(([stack, template]) =>
      resourcesOfType(template, "AWS::Lambda::Url").map(([, url]) => [
        stack,
        url.Properties?.TargetFunctionArn,
      ]),
    );
    expect(prodUrls).toEqual([
      ["Push", { "Fn::GetAtt": [functionId(prod.templates.Push, "ReceivePushFunction"), "Arn"] }],
    ]);
  });

  it("watches for a day without downloads on a scheduled stage, treating silence as breaching", () => {
    const alarms = resourcesOfType(prod.templates.Alarms, "AWS::CloudWatch::Alarm").map(
      ([, a]) => a.Properties ?? {},
    );
    expect(alarms.find((alarm) => alarm.MetricName === "GranulesDownloaded")).toMatchObject({
      Namespace: "HlsS2Downloader",
      Statistic: "Sum",
      Period: 86_400,
      Threshold: 1,
      ComparisonOperator: "LessThanThreshold",
      TreatMissingData: "breaching",
    });
    // ExecutionsFailed, GranulesFailed, QueriesFailed, GranuleLatencyHigh, UnfinishedGranulesOld,
    // DayProductsLow, GranulesMissedByPush (push is on by default on a CDSE prod) and this one.
    expect(alarms).toHaveLength(8);
    expect(resourcesOfType(prod.templates.Alarms, "AWS::SNS::Subscription")[0]?.[1].Properties).toMatchObject(
      {
        Protocol: "email",
        Endpoint: "ops@example.org",
      },
    );
  });
});

describe("the tile allow-list", () => {
  it("is passed to the fetch function only, as the file bundled next to its handler", () => {
    const functions = resourcesOfType(scheduledTest.templates.Workflow, "AWS::Lambda::Function");
    const allowListFiles = Object.fromEntries(
      functions.map(([id, resource]) => [
        id.replace(/Function[0-9A-F]{8}$/, ""),
        (resource.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables
          ?.TILE_ALLOW_LIST_FILE,
      ]),
    );
    expect(allowListFiles.FetchPage).toBe("tile-allow-list.txt");
    expect(allowListFiles.Download).toBeUndefined();
  });

  it("ships a sample core can parse", () => {
    const sample = readFileSync(path.join(REPO_ROOT, "config/tiles.example.txt"), "utf8");
    expect([...loadTileAllowList(sample)]).toEqual(["32TQM", "33UUP", "10SEG"]);
  });

  it("must exist in the repository", () => {
    expect(() => resolveStageSettings("dev", { TILE_ALLOW_LIST_FILE: "config/no-such-tiles.txt" })).toThrow(
      /TILE_ALLOW_LIST_FILE/,
    );
  });
});

describe("settings", () => {
  it("refuses the mock hub on prod", async () => {
    await expect(synthesizeApp({ stage: "prod", settings: { mockHub: true } })).rejects.toThrow(ConfigError);
  });

  it("reads the stage settings from the environment and names every invalid variable", () => {
    expect(
      resolveStageSettings("dev", {
        DOWNLOAD_CONCURRENCY: "20",
        PLATFORMS: "S2B, S2C",
        SCHEDULE_ENABLED: "true",
      }),
    ).toMatchObject({
      downloadConcurrency: 20,
      platforms: ["S2B", "S2C"],
      scheduleEnabled: true,
      mockHub: true,
    });
    let error: unknown;
    try {
      resolveStageSettings("dev", { DOWNLOAD_CONCURRENCY: "many", PLATFORMS: "S1A", HUB_KIND: "scihub" });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((issue) => issue.key).sort()).toEqual([
      "DOWNLOAD_CONCURRENCY",
      "HUB_KIND",
      "PLATFORMS",
    ]);
  });

  it("reads HLS's bucket settings and refuses a region or key without UPLOAD_BUCKET_NAME", () => {
    const key = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    expect(
      resolveStageSettings("dev", {
        UPLOAD_BUCKET_NAME: "hls-landing",
        UPLOAD_BUCKET_REGION: "us-east-1",
        UPLOAD_BUCKET_KMS_KEY_ARN: key,
      }),
    ).toMatchObject({
      uploadBucketName: "hls-landing",
      uploadBucketRegion: "us-east-1",
      uploadBucketKmsKeyArn: key,
    });
    let error: unknown;
    try {
      resolveStageSettings("dev", { UPLOAD_BUCKET_REGION: "us-east-1", UPLOAD_BUCKET_KMS_KEY_ARN: key });
    } catch (caught) {
      error = caught;
    }
    expect((error as ConfigError).issues.map((issue) => issue.key).sort()).toEqual([
      "UPLOAD_BUCKET_KMS_KEY_ARN",
      "UPLOAD_BUCKET_REGION",
    ]);
    expect(() =>
      resolveStageSettings("dev", { UPLOAD_BUCKET_NAME: "b-x", UPLOAD_BUCKET_KMS_KEY_ARN: "alias/hls" }),
    ).toThrow(/UPLOAD_BUCKET_KMS_KEY_ARN/);
  });

  it("requires a hub URL on a stage without the mock hub", () => {
    expect(() => resolveStageSettings("staging", { MOCK_HUB_ENABLED: "false" })).toThrow(/HUB_URL/);
  });

  it("defaults prod to CDSE, a retained, scheduled stage with 15 concurrent downloads", () => {
    expect(resolveStageSettings("prod")).toMatchObject({
      hubKind: "cdse",
      hubUrl: "https://catalogue.dataspace.copernicus.eu",
      retainData: true,
      scheduleEnabled: true,
      mockHub: false,
      downloadConcurrency: 15,
      toleratedFailurePercentage: 10,
    });
  });
});
