import "./polyfills";
import { StateMachine } from "aws-local-stepfunctions";

/** The definitions this process validated, as JSON. */
const validated = new Set<string>();

/**
 * The engine's machine for `definition`, validated (ARNs unchecked: the local ones are placeholders)
 * the first time this process builds it only: asl-validator compiles its JSON schemas again on every
 * call (~0.15 s of CPU), and each execution and each Map Run builds its machine anew, the same
 * definition every time. `validate: false` for states validated within another machine already (a
 * redrive's StartAt leaves the states before it unreachable).
 */
export function stateMachineOf(definition: object, validate: boolean): StateMachine {
  const key = validate ? JSON.stringify(definition) : "";
  const machine = new StateMachine(definition as never, {
    validationOptions: validate && !validated.has(key) ? { checkArn: false } : { noValidate: true },
  });
  if (validate) validated.add(key);
  return machine;
}
