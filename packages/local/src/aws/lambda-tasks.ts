import type { AwsCallListener } from "./aws-calls";
import type { LocalDefinition } from "./definition";
import { type Handler, invokeLambda, type LocalLambdaOptions } from "./lambda";
import type { WorkflowTaskName } from "./workflow";

/** A Task state's local stand-in: its effective input in, its result out (a Lambda invoke, a Map Run). */
export type TaskBinding = (input: unknown) => Promise<unknown>;

/**
 * Binds every Task state of the definition to the handler of the function it invokes, as the
 * LambdaInvoke integration calls it (each invocation within its timeout, lambda.ts): the state named
 * after a function invokes it, and any other Task invoking the same function (RecordQueryFailure
 * invokes FetchPage) runs that function's handler under its own state name.
 * @throws Error naming the Task states no function stands behind.
 */
export function bindLambdaTasks(args: {
  local: LocalDefinition;
  handlers: Record<WorkflowTaskName, Handler>;
  /** Each function's timeout as synthesized, in seconds. */
  timeouts: Partial<Record<WorkflowTaskName, number>>;
  options: LocalLambdaOptions | undefined;
  onAwsCall?: AwsCallListener;
}): Record<string, TaskBinding> {
  const { local, handlers } = args;
  const invoke = (name: WorkflowTaskName, input: unknown, state: string): Promise<unknown> => {
    // A LambdaInvoke without payloadResponseOnly hands over {FunctionName, Payload}; with it, the payload.
    const payload =
      typeof input === "object" && input !== null && "FunctionName" in input && "Payload" in input
        ? (input as { Payload: unknown }).Payload
        : input;
    const functionArn = local.taskResources[state];
    if (functionArn !== undefined) {
      args.onAwsCall?.({
        principal: "StateMachine",
        service: "lambda",
        command: "Invoke",
        input: { FunctionName: functionArn },
      });
    }
    return invokeLambda({
      state,
      functionName: name,
      handler: handlers[name],
      payload,
      synthesizedTimeoutSeconds: args.timeouts[name],
      options: args.options,
    });
  };

  const functions = Object.keys(handlers) as WorkflowTaskName[];
  const bindings: Record<string, TaskBinding> = {};
  for (const name of functions) bindings[name] = (input) => invoke(name, input, name);
  for (const state of local.taskStates) {
    const fn = functions.find(
      (name) =>
        local.taskResources[name] !== undefined && local.taskResources[name] === local.taskResources[state],
    );
    if (!(state in bindings) && fn !== undefined) bindings[state] = (input) => invoke(fn, input, state);
  }
  const unbound = local.taskStates.filter((name) => !(name in bindings));
  if (unbound.length > 0) throw new Error(`no local binding for Task state(s) ${unbound.join(", ")}`);
  return bindings;
}
