import { PUSH_ENDPOINT_DISABLED, parseConfig } from "@hls-s2/core/config";
import { ConfigError } from "@hls-s2/core/errors";
import { beforeAll, describe, expect, it } from "vitest";
import { resolveStageSettings } from "../../stacks/settings";
import {
  functionId,
  functionRoleActions,
  functionRoleStatements,
  iamStatements,
  resourcesOfType,
} from "./helpers";
import { flattenIntrinsics, type SynthesizedApp, synthesizeApp } from "./synthesized";

let withPush: SynthesizedApp;
let withoutPush: SynthesizedApp;

beforeAll(async () => {
  withPush = await synthesizeApp({
    stage: "test",
    settings: { hubKind: "cdse", pushEnabled: true, tileAllowListFile: "config/tiles.example.txt" },
  });
  withoutPush = await synthesizeApp({ stage: "test", settings: { hubKind: "cdse" } });
});

function pushFunction(app: SynthesizedApp) {
  const found = resourcesOfType(app.templates.Push, "AWS::Lambda::Function").find(([logicalId]) =>
    logicalId.startsWith("ReceivePushFunction"),
  );
  if (found === undefined) throw new Error("no push function");
  return found;
}

describe("push subscriptions enabled", () => {
  it("exposes the push function at a public function URL that it authenticates itself", () => {
    const [functionId, fn] = pushFunction(withPush);
    expect(fn.Properties).toMatchObject({ Runtime: "nodejs22.x", Timeout: 30 });
    const urls = resourcesOfType(withPush.templates.Push, "AWS::Lambda::Url");
    expect(urls).toHaveLength(1);
    expect(urls[0]![1].Properties).toMatchObject({
      AuthType: "NONE",
      TargetFunctionArn: { "Fn::GetAtt": [functionId, "Arn"] },
    });
    expect(withPush.templates.Push?.Outputs).toHaveProperty("PushEndpoint");
  });

  it("allows no CORS: the caller is CDSE's server, never a browser", () => {
    const urls = resourcesOfType(withPush.templates.Push, "AWS::Lambda::Url");
    expect(urls).toHaveLength(1);
    expect(urls[0]?.[1].Properties).not.toHaveProperty("Cors");
  });

  it("reserves 5 concurrent executions by default, and PUSH_RESERVED_CONCURRENCY changes it", async () => {
    const [, fn] = pushFunction(withPush);
    expect(fn.Properties?.ReservedConcurrentExecutions).toBe(5);
    expect(resolveStageSettings("test", { PUSH_RESERVED_CONCURRENCY: "12" }).pushReservedConcurrency).toBe(
      12,
    );
    expect(() => resolveStageSettings("test", { PUSH_RESERVED_CONCURRENCY: "0" })).toThrow(
      /PUSH_RESERVED_CONCURRENCY/,
    );
    const tuned = await synthesizeApp({
      stage: "test",
      settings: { hubKind: "cdse", pushEnabled: true, pushReservedConcurrency: 2 },
    });
    expect(pushFunction(tuned)[1].Properties?.ReservedConcurrentExecutions).toBe(2);
  });

  it("gives the function an environment core's parseConfig accepts, the push secret by id only", () => {
    const template = withPush.templates.Push!;
    const [, fn] = pushFunction(withPush);
    const others = Object.values(withPush.templates).filter((other) => other !== undefined);
    const variables = (fn.Properties!.Environment as { Variables: Record<string, unknown> }).Variables;
    const env = flattenIntrinsics(variables, template, withPush.region, others) as Record<string, string>;
    expect(parseConfig(env)).toMatchObject({ hubKind: "cdse", tileAllowListFile: "tile-allow-list.txt" });
    const [secretId] = resourcesOfType(template, "AWS::SecretsManager::Secret")[0]!;
    // A secret's Ref is its ARN.
    expect(variables.PUSH_SECRET_ID).toEqual({ Ref: secretId });
    expect(Object.keys(env).filter((key) => /PASSWORD|USERNAME|CREDENTIAL/i.test(key))).toEqual([]);
    expect(resourcesOfType(template, "AWS::SecretsManager::Secret")).toHaveLength(1);
  });

  it("invokes StartPushedDownloads every 5 minutes, and no rule starts the state machine directly", () => {
    const template = withPush.templates.Push!;
    const rules = resourcesOfType(template, "AWS::Events::Rule");
    expect(rules).toHaveLength(1);
    const properties = rules[0]![1].Properties!;
    expect(properties.ScheduleExpression).toBe("rate(5 minutes)");
    expect(properties.State).toBe("ENABLED");
    const [target, ...others] = properties.Targets as { Arn: unknown; Input?: string }[];
    expect(others).toEqual([]);
    expect(target!.Arn).toEqual({
      "Fn::GetAtt": [functionId(template, "StartPushedDownloadsFunction"), "Arn"],
    });
  });

  it("gives StartPushedDownloads the state machine's ARN and a config core accepts", () => {
    const template = withPush.templates.Push!;
    const [, fn] = resourcesOfType(template, "AWS::Lambda::Function").find(([id]) =>
      id.startsWith("StartPushedDownloadsFunction"),
    )!;
    expect(fn.Properties).toMatchObject({ Runtime: "nodejs22.x", Timeout: 30 });
    const variables = (fn.Properties!.Environment as { Variables: Record<string, unknown> }).Variables;
    const others = Object.values(withPush.templates).filter((other) => other !== undefined);
    const env = flattenIntrinsics(variables, template, withPush.region, others) as Record<string, string>;
    expect(parseConfig(env)).toMatchObject({ lookbackDays: withPush.settings.lookbackDays });
    expect(String(env.STATE_MACHINE_ARN)).toMatch(/stateMachine/i);
  });

  it("lets StartPushedDownloads query the status index and list and start the state machine's executions only", () => {
    const template = withPush.templates.Push!;
    expect(functionRoleActions(template, "StartPushedDownloadsFunction")).toEqual([
      "dynamodb:Query",
      "states:ListExecutions",
      "states:StartExecution",
    ]);
    const states = functionRoleStatements(template, "StartPushedDownloadsFunction").filter((statement) =>
      [statement.Action].flat().some((action) => action.startsWith("states:")),
    );
    expect(states).toHaveLength(1);
    const others = Object.values(withPush.templates).filter((other) => other !== undefined);
    const resources = [states[0]!.Resource]
      .flat()
      .map((resource) => String(flattenIntrinsics(resource, template, withPush.region, others)));
    expect(resources).toHaveLength(1);
    expect(resources[0]).toMatch(/statemachine/i);
  });

  it("lets the function write the table and read its secret, and nothing with Resource *", () => {
    const [functionId] = pushFunction(withPush);
    const template = withPush.templates.Push!;
    const role = template.Resources![functionId]!.Properties!.Role as { "Fn::GetAtt": [string, string] };
    const roleId = role["Fn::GetAtt"][0];
    const statements = iamStatements(template)
      .filter(({ logicalId }) => {
        const roles = template.Resources?.[logicalId]?.Properties?.Roles as { Ref: string }[] | undefined;
        return roles?.some((role) => role.Ref === roleId);
      })
      .map(({ statement }) => statement);
    const actions = statements.flatMap((statement) => [statement.Action].flat());
    expect(actions).toContain("dynamodb:PutItem");
    expect(actions).toContain("secretsmanager:GetSecretValue");
    expect(actions.filter((action) => /^dynamodb:(Get|Query|Scan)/.test(action))).toEqual([]);
    expect(actions.filter((action) => action.startsWith("s3:"))).toEqual([]);
    const starred = iamStatements(template).filter(({ statement }) =>
      [statement.Resource].flat().includes("*"),
    );
    expect(starred).toEqual([]);
  });
});

describe("push subscriptions disabled", () => {
  it("keeps the Push stack without a push endpoint, a rule or its function (the default)", () => {
    expect(withoutPush.settings.pushEnabled).toBe(false);
    const push = withoutPush.templates.Push;
    expect(resourcesOfType(push, "AWS::Lambda::Url")).toEqual([]);
    expect(resourcesOfType(push, "AWS::Events::Rule")).toEqual([]);
    const ours = resourcesOfType(push, "AWS::Lambda::Function").filter(([id]) =>
      /^(ReceivePush|StartPushedDownloads)Function/.test(id),
    );
    expect(ours).toEqual([]);
    expect(resourcesOfType(push, "AWS::SecretsManager::Secret")).toEqual([]);
    expect(resourcesOfType(push, "AWS::SSM::Parameter").map(([, p]) => p.Properties?.Value)).toEqual([
      PUSH_ENDPOINT_DISABLED,
    ]);
  });

  it("refuses push on a DHuS stage", () => {
    expect(() => resolveStageSettings("test", { PUSH_ENABLED: "true", HUB_KIND: "dhus" })).toThrow(
      ConfigError,
    );
    expect(resolveStageSettings("test", { PUSH_ENABLED: "1", HUB_KIND: "cdse" }).pushEnabled).toBe(true);
  });
});
