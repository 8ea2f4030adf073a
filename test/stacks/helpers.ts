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
