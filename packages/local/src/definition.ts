import { InvalidInputError } from "@hls-s2/core";

/**
 * Turns the state machine definition the stacks synthesize into one aws-local-stepfunctions runs
 * with the same behaviour. The engine silently ignores ItemReader, ResultWriter and
 * ToleratedFailurePercentage, and times Tasks out after 60 s unless told otherwise, so:
 * - a Distributed Map reads its items from `ItemsPath` (derived from the ItemReader's key path:
 *   `$.manifest.key` → `$.manifest.items`; the local WriteManifest binding puts the manifest there);
 * - its item processor's Fail states become Succeed states: in AWS one failed child (already recorded
 *   FAILED by RecordFailure) is absorbed by ToleratedFailurePercentage; locally it would fail the
 *   whole Map, so the tolerance is reported to the caller instead of enforced;
 * - `concurrency` replaces the Distributed Map's MaxConcurrency (the engine honours it);
 * - a Task without TimeoutSeconds gets the Lambda timeout, as in AWS where only Lambda bounds it.
 * Every other state is kept exactly as synthesized.
 */

export type Asl = Record<string, unknown> & { StartAt: string; States: Record<string, AslState> };
export type AslState = Record<string, unknown> & { Type: string };

/** A CloudFormation DefinitionString: a plain string or the intrinsic functions CDK emits. */
export type DefinitionString = string | Record<string, unknown>;

export interface DistributedMapNote {
  stateName: string;
  itemsPath: string;
  maxConcurrency?: number;
  /** What AWS would tolerate before failing the Map; the local engine cannot enforce it. */
  toleratedFailurePercentage?: number;
  /** Names of the item processor's Fail states replaced by Succeed states. */
  replacedFailStates: string[];
}

export interface LocalDefinition {
  definition: Asl;
  distributedMaps: DistributedMapNote[];
  /** Every Task state name (top level and nested), each needing a local binding. */
  taskStates: string[];
}

export interface AdaptOptions {
  /** Overrides every Distributed Map's MaxConcurrency. */
  concurrency?: number;
  /** TimeoutSeconds for Tasks that set none (default 900, the download Lambda's timeout). */
  taskTimeoutSeconds?: number;
}

const PSEUDO_PARAMETERS: Record<string, string> = {
  "AWS::Partition": "aws",
  "AWS::Region": "us-east-1",
  "AWS::AccountId": "123456789012",
  "AWS::URLSuffix": "amazonaws.com",
  "AWS::StackName": "local",
};

/**
 * Flattens a DefinitionString's `Fn::Join`, `Ref` and `Fn::GetAtt` into one ASL JSON text, with
 * placeholder ARNs and names (Tasks are bound locally, so they are never called).
 * @throws InvalidInputError on an intrinsic function it does not know.
 */
export function flattenDefinitionString(value: DefinitionString): string {
  if (typeof value === "string") return value;
  if (typeof value !== "object" || value === null) {
    throw new InvalidInputError(`unexpected DefinitionString part ${JSON.stringify(value)}`);
  }
  const [fn, args] = Object.entries(value)[0] ?? [];
  if (fn === "Fn::Join" && Array.isArray(args) && typeof args[0] === "string" && Array.isArray(args[1])) {
    return (args[1] as DefinitionString[]).map(flattenDefinitionString).join(args[0]);
  }
  if (fn === "Ref" && typeof args === "string") return PSEUDO_PARAMETERS[args] ?? `local-${args}`;
  if (fn === "Fn::GetAtt" && Array.isArray(args) && typeof args[0] === "string") {
    return `arn:aws:lambda:us-east-1:123456789012:function:${args[0]}`;
  }
  throw new InvalidInputError(`unsupported intrinsic function ${fn ?? "(none)"} in DefinitionString`);
}

/**
 * Adapts a synthesized definition for aws-local-stepfunctions (see the module comment).
 * @throws InvalidInputError when the definition uses what the engine cannot run faithfully (JSONata,
 * ItemBatcher, a Distributed Map without an S3 key path) or an option is out of range.
 */
export function adaptDefinition(
  definition: DefinitionString | Asl,
  options: AdaptOptions = {},
): LocalDefinition {
  options.taskTimeoutSeconds ??= 900;
  if (
    options.concurrency !== undefined &&
    (!Number.isInteger(options.concurrency) || options.concurrency < 1)
  ) {
    throw new InvalidInputError(`concurrency must be a positive integer, got ${options.concurrency}`, {
      field: "concurrency",
    });
  }
  if (!Number.isInteger(options.taskTimeoutSeconds) || options.taskTimeoutSeconds < 1) {
    throw new InvalidInputError(
      `taskTimeoutSeconds must be a positive integer, got ${options.taskTimeoutSeconds}`,
      {
        field: "taskTimeoutSeconds",
      },
    );
  }
  const asl = parseAsl(definition);
  const result: LocalDefinition = { definition: asl, distributedMaps: [], taskStates: [] };
  adaptStates(asl, options as Required<Pick<AdaptOptions, "taskTimeoutSeconds">> & AdaptOptions, result);
  return result;
}

function parseAsl(definition: DefinitionString | Asl): Asl {
  const isAsl = typeof definition === "object" && "States" in definition && "StartAt" in definition;
  // A deep copy: the caller's object (e.g. a template) stays as synthesized.
  const asl = isAsl ? structuredClone(definition) : JSON.parse(flattenDefinitionString(definition));
  if (
    typeof asl !== "object" ||
    asl === null ||
    typeof asl.StartAt !== "string" ||
    typeof asl.States !== "object"
  ) {
    throw new InvalidInputError("the definition has no StartAt/States");
  }
  return asl as Asl;
}

function adaptStates(
  machine: { States: Record<string, AslState>; QueryLanguage?: unknown },
  options: AdaptOptions & { taskTimeoutSeconds: number },
  result: LocalDefinition,
): void {
  if (machine.QueryLanguage === "JSONata") {
    throw new InvalidInputError(
      "JSONata definitions cannot run locally; write the state machine in JSONPath",
    );
  }
  for (const [name, state] of Object.entries(machine.States)) {
    if (state["QueryLanguage"] === "JSONata") {
      throw new InvalidInputError(`state ${name} uses JSONata, which cannot run locally`);
    }
    if (state.Type === "Task") {
      result.taskStates.push(name);
      if (state["TimeoutSeconds"] === undefined && state["TimeoutSecondsPath"] === undefined) {
        state["TimeoutSeconds"] = options.taskTimeoutSeconds;
      }
    }
    if (state.Type === "Parallel") {
      for (const branch of state["Branches"] as Asl[]) adaptStates(branch, options, result);
    }
    if (state.Type === "Map") {
      const processor = (state["ItemProcessor"] ?? state["Iterator"]) as Asl & {
        ProcessorConfig?: { Mode?: string };
      };
      if (processor.ProcessorConfig?.Mode === "DISTRIBUTED") {
        result.distributedMaps.push(adaptDistributedMap(name, state, processor, options));
      }
      adaptStates(processor, options, result);
    }
  }
}

function adaptDistributedMap(
  name: string,
  state: AslState,
  processor: Asl,
  options: AdaptOptions,
): DistributedMapNote {
  if (state["ItemBatcher"] !== undefined) {
    throw new InvalidInputError(
      `state ${name}: ItemBatcher cannot run locally (the engine would pass single items)`,
    );
  }
  const reader = state["ItemReader"] as { Parameters?: Record<string, unknown> } | undefined;
  const keyPath = reader?.Parameters?.["Key.$"];
  if (typeof keyPath !== "string" || !keyPath.endsWith(".key")) {
    throw new InvalidInputError(
      `state ${name}: its ItemReader has no Key.$ path ending in .key to derive ItemsPath from`,
    );
  }
  const itemsPath = `${keyPath.slice(0, -".key".length)}.items`;
  const note: DistributedMapNote = {
    stateName: name,
    itemsPath,
    toleratedFailurePercentage: state["ToleratedFailurePercentage"] as number | undefined,
    replacedFailStates: [],
  };
  delete state["ItemReader"];
  delete state["ResultWriter"];
  delete state["ToleratedFailurePercentage"];
  delete state["ToleratedFailureCount"];
  state["ItemsPath"] = itemsPath;
  if (options.concurrency !== undefined) state["MaxConcurrency"] = options.concurrency;
  note.maxConcurrency = state["MaxConcurrency"] as number | undefined;
  for (const [childName, child] of Object.entries(processor.States)) {
    if (child.Type !== "Fail") continue;
    processor.States[childName] = {
      Type: "Succeed",
      Comment: `local: was Fail (${String(child["Error"] ?? "")}); AWS absorbs it via ToleratedFailurePercentage`,
    };
    note.replacedFailStates.push(childName);
  }
  return note;
}
