import { Stack } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";
import { AwsSolutionsChecks, type INagLogger } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { type SynthesizeOptions, synthesizeApp } from "../../stacks/synth";

/** What cdk-nag reported for one app: unsuppressed findings and rule errors, and the suppressions used. */
interface NagReport {
  findings: string[];
  suppressed: { rule: string; reason: string }[];
}

async function runAwsSolutionsChecks(options: SynthesizeOptions): Promise<NagReport> {
  const report: NagReport = { findings: [], suppressed: [] };
  const where = (data: { resource: { node: { path: string } } }) => data.resource.node.path;
  const logger: INagLogger = {
    onCompliance: () => undefined,
    onNotApplicable: () => undefined,
    onNonCompliance: (data) => {
      report.findings.push(`${data.ruleLevel} ${data.ruleId} ${where(data)} ${data.findingId}`);
    },
    onSuppressed: (data) => report.suppressed.push({ rule: data.ruleId, reason: data.suppressionReason }),
    // A rule that cannot evaluate a resource is a finding too: nothing was proven.
    onError: (data) => report.findings.push(`rule error ${data.ruleId} ${where(data)}: ${data.errorMessage}`),
    onSuppressedError: () => undefined,
  };
  await synthesizeApp({
    ...options,
    aspects: [
      ...(options.aspects ?? []),
      new AwsSolutionsChecks({ additionalLoggers: [logger], reports: false }),
    ],
  });
  return report;
}

describe("cdk-nag AwsSolutionsChecks", () => {
  it("leaves no unsuppressed error or warning on prod (CDSE, push, alarm email, HLS's bucket with a key)", async () => {
    const report = await runAwsSolutionsChecks({
      stage: "prod",
      settings: {
        pushEnabled: true,
        alarmEmail: "ops@example.org",
        tileAllowListFile: "config/tiles.example.txt",
        uploadBucketName: "hls-landing-bucket",
        uploadBucketKmsKeyArn: "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
      },
    });
    expect(report.findings).toEqual([]);
    expect(report.suppressed.length).toBeGreaterThan(0);
  });

  it("leaves no unsuppressed error or warning on a dev stage (mock hub, created upload bucket)", async () => {
    const report = await runAwsSolutionsChecks({ stage: "dev", settings: { scheduleEnabled: true } });
    expect(report.findings).toEqual([]);
  });

  it("fails on a finding nobody answered (a bucket without TLS enforcement added to Storage)", async () => {
    // Proves the checks reach the stacks and the logger sees findings: a plain bucket trips S10.
    const plainBucket = {
      visit(node: unknown) {
        if (
          node instanceof Stack &&
          node.node.id.endsWith("Storage") &&
          !node.node.tryFindChild("PlainBucket")
        ) {
          new s3.Bucket(node, "PlainBucket");
        }
      },
    };
    const report = await runAwsSolutionsChecks({ stage: "dev", aspects: [plainBucket] });
    expect(report.findings.filter((finding) => finding.includes("PlainBucket"))).toContainEqual(
      expect.stringContaining("AwsSolutions-S10"),
    );
  });

  it("explains every suppression", async () => {
    const report = await runAwsSolutionsChecks({ stage: "prod", settings: { pushEnabled: true } });
    for (const { rule, reason } of report.suppressed) {
      expect(reason.length, rule).toBeGreaterThan(40);
    }
  });
});
