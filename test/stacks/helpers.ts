import type { StateMachineDefinition, TemplateJson } from "../../stacks/synth";

/** A state of the definition, searching nested item processors too. */
export function findState(definition: StateMachineDefinition, name: string): Record<string, unknown> {
  const search = (states: Record<string, Record<string, unknown>>): Record<string, unknown> | undefined => {
    for (const [stateName, state] of Object.entries(states)) {
      if (stateName === name) return state;
      const processor = (state.ItemProcessor ?? state.Iterator) as
        | { States: Record<string, Record<string, unknown>> }
        | undefined;
      const nested = processor && search(processor.States);
      if (nested) return nested;
    }
    return undefined;
  };
  const state = search(definition.States);
  if (state === undefined) throw new Error(`no state ${name} in the definition`);
  return state;
}

export interface PolicyStatement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** Every IAM statement of a template: inline policies, role policies and managed policies. */
export function iamStatements(template: TemplateJson): { logicalId: string; statement: PolicyStatement }[] {
  const found: { logicalId: string; statement: PolicyStatement }[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    const properties = resource.Properties ?? {};
    const documents: unknown[] = [];
    if (resource.Type === "AWS::IAM::Policy" || resource.Type === "AWS::IAM::ManagedPolicy") {
      documents.push(properties.PolicyDocument);
    }
    if (resource.Type === "AWS::IAM::Role") {
      for (const policy of (properties.Policies as { PolicyDocument: unknown }[] | undefined) ?? []) {
        documents.push(policy.PolicyDocument);
      }
    }
    for (const document of documents) {
      for (const statement of (document as { Statement: PolicyStatement[] }).Statement) {
        found.push({ logicalId, statement });
      }
    }
  }
  return found;
}

/** Resources of one CloudFormation type, by logical id. */
export function resourcesOfType(template: TemplateJson | undefined, type: string) {
  return Object.entries(template?.Resources ?? {}).filter(([, resource]) => resource.Type === type);
}

/** The logical id of the function whose logical id starts with `prefix` (SST appends a hash). */
export function functionId(template: TemplateJson | undefined, prefix: string): string {
  const found = resourcesOfType(template, "AWS::Lambda::Function").find(([id]) => id.startsWith(prefix));
  if (found === undefined) throw new Error(`no function ${prefix}*`);
  return found[0];
}

/** Every statement of the policies attached to the role of the function `prefix*`. */
export function functionRoleStatements(template: TemplateJson, prefix: string): PolicyStatement[] {
  const role = template.Resources?.[functionId(template, prefix)]?.Properties?.Role as
    | { "Fn::GetAtt": [string, string] }
    | undefined;
  if (role === undefined) throw new Error(`function ${prefix}* has no role`);
  const roleId = role["Fn::GetAtt"][0];
  return iamStatements(template)
    .filter(({ logicalId }) => {
      const roles = template.Resources?.[logicalId]?.Properties?.Roles as { Ref: string }[] | undefined;
      return roles?.some((role) => role.Ref === roleId) ?? false;
    })
    .map(({ statement }) => statement);
}

/** The actions of those statements, sorted, without duplicates. */
export function functionRoleActions(template: TemplateJson, prefix: string): string[] {
  const actions = functionRoleStatements(template, prefix).flatMap((statement) => [statement.Action].flat());
  return [...new Set(actions)].sort();
}
