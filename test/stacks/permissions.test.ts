import { PUBLISHED_PARAMETERS, uploadBucketNameParameter } from "@hls-s2/core/config";
import { beforeAll, describe, expect, it } from "vitest";
import { PUSH_TABLE_ACTIONS } from "../../stacks/Push";
import {
  TABLE_ACTIONS,
  UPLOAD_BUCKET_ACTIONS,
  UPLOAD_BUCKET_LIST_ACTIONS,
  UPLOAD_KEY_ACTIONS,
  WORKFLOW_TASKS,
} from "../../stacks/Workflow";
import {
  functionId,
  functionRoleActions,
  functionRoleStatements,
  type PolicyStatement,
  resourcesOfType,
} from "./helpers";
import { type SynthesizedApp, synthesizeApp, type TemplateJson } from "./synthesized";

const HLS_BUCKET = "hls-global-v2-prod-landing";
const HLS_KEY = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

let created: SynthesizedApp;
let hls: SynthesizedApp;

beforeAll(async () => {
  created = await synthesizeApp({ stage: "prod", settings: { pushEnabled: true } });
  hls = await synthesizeApp({
    stage: "prod",
    settings: {
      pushEnabled: true,
      uploadBucketName: HLS_BUCKET,
      uploadBucketRegion: "us-east-1",
      uploadBucketKmsKeyArn: HLS_KEY,
      objectPrefix: "incoming/",
    },
  });
});

const workflow = (app: SynthesizedApp): TemplateJson => app.templates.Workflow!;

/** The statements of `prefix*`'s role whose actions all start with `service:`. */
function statementsFor(template: TemplateJson, prefix: string, service: string): PolicyStatement[] {
  return functionRoleStatements(template, prefix).filter((statement) =>
    [statement.Action].flat().every((action) => action.startsWith(`${service}:`)),
  );
}

/** The SSM parameter a CloudFormation parameter of type AWS::SSM::Parameter::Value<String> reads. */
function ssmParameterNameOf(template: TemplateJson, reference: unknown): string {
  const ref = (reference as { Ref?: string }).Ref ?? "";
  const parameter = (template.Parameters as Record<string, { Type: string; Default: string }>)[ref];
  expect(parameter?.Type).toBe("AWS::SSM::Parameter::Value<String>");
  return parameter!.Default;
}

describe("the Download role", () => {
  it("may only put objects and abort multipart uploads on the upload bucket, under the prefix", () => {
    for (const [app, prefix] of [
      [created, ""],
      [hls, "incoming/"],
    ] as const) {
      const s3 = statementsFor(workflow(app), "DownloadFunction", "s3").filter(
        (statement) => !UPLOAD_BUCKET_LIST_ACTIONS.some((action) => statement.Action === action),
      );
      expect(s3).toHaveLength(1);
      expect(s3[0]!.Action).toEqual(["s3:PutObject", "s3:AbortMultipartUpload"]);
      const [, parts] = (s3[0]!.Resource as { "Fn::Join": [string, unknown[]] })["Fn::Join"];
      // arn:<partition>:s3:::<bucket name from Storage's parameter>/<prefix>*
      expect(parts[parts.length - 1]).toBe(`/${prefix}*`);
      expect(ssmParameterNameOf(workflow(app), parts[parts.length - 2])).toBe(
        uploadBucketNameParameter("prod"),
      );
    }
    expect([...UPLOAD_BUCKET_ACTIONS]).toEqual(["s3:PutObject", "s3:AbortMultipartUpload"]);
  });

  it("never reads, heads or lists any bucket", () => {
    for (const app of [created, hls]) {
      const actions = functionRoleActions(workflow(app), "DownloadFunction").filter(
        // The stage's own bucket only: see the next test.
        (action) => !(app === created && action === "s3:ListBucketMultipartUploads"),
      );
      expect(actions.filter((action) => /^s3:(Get|List|Head|Delete)/.test(action))).toEqual([]);
    }
  });

  it("lists the multipart uploads of the stage's own upload bucket only, to abort one an attempt never recorded", () => {
    const listing = (app: typeof created) =>
      statementsFor(workflow(app), "DownloadFunction", "s3").filter(
        (statement) => statement.Action === "s3:ListBucketMultipartUploads",
      );
    expect(listing(created)).toHaveLength(1);
    expect(listing(hls)).toEqual([]);
    const environment = (app: typeof created) =>
      resourcesOfType(workflow(app), "AWS::Lambda::Function")
        .map(
          ([, resource]) =>
            resource.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined,
        )
        .map((env) => env?.Variables?.UPLOAD_BUCKET_LISTABLE)
        .filter((value) => value !== undefined);
    expect(environment(created)).toEqual(["true"]);
    expect(environment(hls)).toEqual([]);
  });

  it("gets kms:GenerateDataKey and kms:Decrypt on the bucket's key only when one is set", () => {
    expect(statementsFor(workflow(created), "DownloadFunction", "kms")).toEqual([]);
    const kms = statementsFor(workflow(hls), "DownloadFunction", "kms");
    expect(kms).toEqual([
      expect.objectContaining({ Action: [...UPLOAD_KEY_ACTIONS], Effect: "Allow", Resource: HLS_KEY }),
    ]);
  });

  it("is published as a stack output and as /hls-s2/<stage>/downloadRoleArn", () => {
    const template = workflow(hls);
    const fn = template.Resources![functionId(template, "DownloadFunction")]!;
    const role = fn.Properties!.Role as { "Fn::GetAtt": [string, string] };
    const outputs = template.Outputs as Record<string, { Value: unknown }>;
    expect(outputs.DownloadRoleArn?.Value).toEqual(role);
    const parameter = resourcesOfType(template, "AWS::SSM::Parameter")
      .map(([, resource]) => resource.Properties ?? {})
      .find((properties) => properties.Name === `/hls-s2/prod/${PUBLISHED_PARAMETERS.downloadRoleArn}`);
    expect(parameter?.Value).toEqual(role);
  });

  it("gives the bucket's region to the functions that call the bucket (Download, Summarize's sweep), when it differs", () => {
    const regions = resourcesOfType(workflow(hls), "AWS::Lambda::Function").map(
      ([id, resource]) =>
        [
          id.replace(/Function[0-9A-F]{8}$/, ""),
          (resource.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables
            ?.BUCKET_REGION,
        ] as const,
    );
    expect(regions.filter(([, region]) => region !== undefined)).toEqual([
      ["Download", "us-east-1"],
      ["Summarize", "us-east-1"],
    ]);
    const createdRegions = resourcesOfType(workflow(created), "AWS::Lambda::Function").map(
      ([, resource]) =>
        (resource.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables
          ?.BUCKET_REGION,
    );
    expect(createdRegions.filter((region) => region !== undefined)).toEqual([]);
  });
});

describe("table grants", () => {
  it("give each workflow function exactly the DynamoDB actions its code sends", () => {
    for (const name of Object.keys(WORKFLOW_TASKS) as (keyof typeof WORKFLOW_TASKS)[]) {
      const dynamo = functionRoleActions(workflow(created), `${name}Function`).filter((action) =>
        action.startsWith("dynamodb:"),
      );
      expect(dynamo, name).toEqual([...TABLE_ACTIONS[name]].sort());
    }
    expect(TABLE_ACTIONS).toEqual({
      GenerateQueries: [],
      FetchPage: ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"],
      WriteManifest: ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem"],
      Download: ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem"],
      Summarize: ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem"],
    });
  });

  it("never include Scan, batch writes or deletes, for any role of any stack", () => {
    for (const template of Object.values(created.templates)) {
      for (const [id] of resourcesOfType(template, "AWS::Lambda::Function")) {
        const actions = functionRoleActions(template!, id);
        expect(
          // BatchGetItem is a read (Download's slot gauge); BatchWriteItem would put or delete in bulk.
          actions.filter((action) => /^dynamodb:(Scan|BatchWrite|Delete|\*)/.test(action)),
          id,
        ).toEqual([]);
      }
    }
  });

  it("give the public push receiver PutItem and UpdateItem on the table and GetSecretValue on its secret, nothing else", () => {
    const push = created.templates.Push!;
    expect(functionRoleActions(push, "ReceivePushFunction")).toEqual(
      [...PUSH_TABLE_ACTIONS, "secretsmanager:GetSecretValue"].sort(),
    );
  });
});

describe("other grants", () => {
  it("let WriteManifest put manifests/*.json in the work bucket and nothing else there", () => {
    const s3 = statementsFor(workflow(created), "WriteManifestFunction", "s3");
    expect(s3).toHaveLength(1);
    expect(s3[0]!.Action).toBe("s3:PutObject");
    const [, parts] = (s3[0]!.Resource as { "Fn::Join": [string, unknown[]] })["Fn::Join"];
    expect(parts[parts.length - 1]).toBe("/manifests/*.json");
  });

  it("read secrets with GetSecretValue only, and only where the code reads one", () => {
    const readers = Object.keys(WORKFLOW_TASKS).filter((name) =>
      functionRoleActions(workflow(created), `${name}Function`).some((action) =>
        action.startsWith("secretsmanager:"),
      ),
    );
    expect(readers.sort()).toEqual(["Download", "FetchPage"]);
    for (const name of readers) {
      expect(
        functionRoleActions(workflow(created), `${name}Function`).filter((a) =>
          a.startsWith("secretsmanager:"),
        ),
      ).toEqual(["secretsmanager:GetSecretValue"]);
    }
  });

  it("leave GenerateQueries with no data access at all", () => {
    expect(functionRoleActions(workflow(created), "GenerateQueriesFunction")).toEqual([]);
  });
});
