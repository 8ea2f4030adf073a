import { PUBLISHED_PARAMETERS } from "@hls-s2/core/config";
import { beforeAll, describe, expect, it } from "vitest";
import { iamStatements, resourcesOfType } from "./helpers";
import { type SynthesizedApp, synthesizeApp } from "./synthesized";

let synthesized: SynthesizedApp;

beforeAll(async () => {
  synthesized = await synthesizeApp({ stage: "test" });
});

describe("the Summarize sweeper's grants", () => {
  it("may abort multipart uploads in the upload bucket and do nothing else there: no read, list or put", () => {
    const s3Statements = iamStatements(synthesized.templates.Workflow!)
      .filter(({ logicalId }) => logicalId.startsWith("SummarizeFunction"))
      .map(({ statement }) => statement)
      .filter((statement) => [statement.Action].flat().some((action) => action.startsWith("s3:")));
    // Besides, one statement on the work bucket: the closed days' delivery manifests (issue 24).
    const inWorkBucket = (statement: (typeof s3Statements)[number]) =>
      JSON.stringify(statement.Resource).includes("WorkBucket");
    const s3Actions = s3Statements
      .filter((statement) => !inWorkBucket(statement))
      .flatMap((statement) => [statement.Action].flat());
    expect(s3Actions).toEqual(["s3:AbortMultipartUpload"]);
    const work = s3Statements.filter(inWorkBucket);
    expect(work.map((statement) => [statement.Action].flat())).toEqual([["s3:PutObject"]]);
    expect(JSON.stringify(work[0]!.Resource)).toMatch(/\/delivery\/\*"/);
  });
});

describe("the Summarize sweeper in HLS's cross-account layout", () => {
  let hls: SynthesizedApp;

  beforeAll(async () => {
    hls = await synthesizeApp({
      stage: "prod",
      settings: { uploadBucketName: "hls-landing", uploadBucketRegion: "us-east-1" },
    });
  });

  it("is given the bucket's region and publishes its role for the bucket policy, beside the Download role", () => {
    const template = hls.templates.Workflow!;
    const [, summarize] = resourcesOfType(template, "AWS::Lambda::Function").find(([id]) =>
      id.startsWith("SummarizeFunction"),
    )!;
    const variables = (
      summarize.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined
    )?.Variables;
    expect(variables?.["BUCKET_REGION"]).toBe("us-east-1");
    const role = summarize.Properties?.Role as { "Fn::GetAtt": [string, string] };
    const outputs = template.Outputs as Record<string, { Value: unknown }>;
    expect(outputs.SweeperRoleArn?.Value).toEqual(role);
    expect(outputs.SweeperRoleArn?.Value).not.toEqual(outputs.DownloadRoleArn?.Value);
    const parameter = resourcesOfType(template, "AWS::SSM::Parameter")
      .map(([, resource]) => resource.Properties ?? {})
      .find((properties) => properties.Name === `/hls-s2/prod/${PUBLISHED_PARAMETERS.sweeperRoleArn}`);
    expect(parameter?.Value).toEqual(role);
  });
});
