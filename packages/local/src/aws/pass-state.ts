import { StateMachine } from "aws-local-stepfunctions";

/**
 * A one-state machine that evaluates a Pass state's paths with the engine's JSONPath. Not validated:
 * its fields come from the synthesized definition, which the parent's machine validated already.
 */
export function passState(fields: Record<string, unknown>): StateMachine {
  return new StateMachine(
    { StartAt: "Evaluate", States: { Evaluate: { Type: "Pass", ...fields, End: true } } } as never,
    { validationOptions: { noValidate: true } },
  );
}
