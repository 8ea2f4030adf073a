import { InvalidInputError } from "@hls-s2/core/errors";

/**
 * Turns the state machine definition the stacks synthesize into one aws-local-stepfunctions runs.
 * The engine cannot run a Distributed Map (it silently ignores ItemReader, ItemSelector's
 * `$$.Map.Item`, ResultWriter and ToleratedFailurePercentage/Count), so exactly one substitution is
 * made: each Distributed Map state is presented to the engine as a Task with the same Next/End,
 * InputPath, ResultSelector, ResultPath, OutputPath, Retry and Catch, bound to the local Map Run
 * executor (map-run.ts), which reads the synthesized state's own fields unchanged. Nothing else is
 * rewritten: Fail states stay Fail states and the tolerated failure threshold is enforced by the
 * executor, not dropped. The one other adjustment: a Task without TimeoutSeconds gets the Lambda
 * timeout, because the engine times Tasks out after 60 s where in AWS only Lambda bounds them.
 */

/** The Resource of the Task standing in for a Distributed Map; its binding is the Map Run executor. */
export const DISTRIBUTED_MAP_RESOURCE = "arn:aws:states:::local:distributedMap";

/**
 * A Distributed Map has no timeout of its own (its children have theirs); the engine needs one for
 * the Task standing in for it: the largest setTimeout accepts (2^31-1 ms, about 24 days).
 */
const MAP_TASK_TIMEOUT_SECONDS = 2_147_483;

/** The fields a Map shares with a Task; the stand-in Task keeps exactly these. */
const TASK_FIELDS = [
  "Comment",
  "InputPath",
  "OutputPath",
  "ResultPath",
  "ResultSelector",
  "Retry",
  "Catch",
  "Next",
  "End",
];

export type Asl = Record<string, unknown> & { StartAt: string; States: Record<string, AslState> };
export type AslState = Record<string, unknown> & { Type: string };

/** A CloudFormation DefinitionString: a plain string or the intrinsic functions CDK emits. */
export type DefinitionString = string | Record<string, unknown>;

export interface DistributedMapNote {
  stateName: string;
  /** The Distributed Map state as synthesized (its item processor's Tasks with their timeouts). */
  state: AslState;
  /** The Map's MaxConcurrency, or the `concurrency` option that replaces it for this run. */
  maxConcurrency?: number;
}

export interface LocalDefinition {
  definition: Asl;
  distributedMaps: DistributedMapNote[];
  /** Every Lambda Task state name (top level and nested), each needing a local binding. */
  taskStates: string[];
  /** Each Task's Lambda function (its Resource, or a lambda:invoke integration's FunctionName). */
  taskResources: Record<string, string>;
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
 * @throws InvalidInputError when the definition uses what cannot run faithfully here (JSONata,
 * ItemBatcher, a Distributed Map nested in another Map) or an option is out of range.
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
  const result: LocalDefinition = { definition: asl, distributedMaps: [], taskStates: [], taskResources: {} };
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
  nested = false,
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
      const parameters = state["Parameters"] as Record<string, unknown> | undefined;
      const resource =
        state["Resource"] === "arn:aws:states:::lambda:invoke"
          ? parameters?.["FunctionName"]
          : state["Resource"];
      if (typeof resource === "string") result.taskResources[name] = resource;
      if (state["TimeoutSeconds"] === undefined && state["TimeoutSecondsPath"] === undefined) {
        state["TimeoutSeconds"] = options.taskTimeoutSeconds;
      }
    }
    if (state.Type === "Parallel") {
      for (const branch of state["Branches"] as Asl[]) adaptStates(branch, options, result, true);
    }
    if (state.Type === "Map") {
      const processor = (state["ItemProcessor"] ?? state["Iterator"]) as Asl & {
        ProcessorConfig?: { Mode?: string };
      };
      const distributed = processor.ProcessorConfig?.Mode === "DISTRIBUTED";
      if (distributed && nested) {
        throw new InvalidInputError(
          `state ${name}: a Distributed Map inside another state cannot run locally`,
        );
      }
      adaptStates(processor, options, result, true);
      if (distributed) {
        result.distributedMaps.push(noteDistributedMap(name, state, options));
        machine.States[name] = standInTask(state);
      }
    }
  }
}

function noteDistributedMap(name: string, state: AslState, options: AdaptOptions): DistributedMapNote {
  if (state["ItemBatcher"] !== undefined) {
    throw new InvalidInputError(`state ${name}: ItemBatcher is not implemented by the local Map Run`);
  }
  const maxConcurrency = options.concurrency ?? (state["MaxConcurrency"] as number | undefined);
  return { stateName: name, state, ...(maxConcurrency !== undefined && { maxConcurrency }) };
}

/** The Task the engine sees in place of a Distributed Map: same transitions, paths and error handling. */
function standInTask(state: AslState): AslState {
  const task: AslState = {
    Type: "Task",
    Resource: DISTRIBUTED_MAP_RESOURCE,
    TimeoutSeconds: MAP_TASK_TIMEOUT_SECONDS,
  };
  for (const field of TASK_FIELDS) if (field in state) task[field] = state[field];
  return task;
}
