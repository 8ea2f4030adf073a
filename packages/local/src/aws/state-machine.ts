import { StateMachine } from "aws-local-stepfunctions";

/** aws-local-stepfunctions' validation options (asl-validator's). */
export interface ValidationOptions {
  checkArn?: boolean;
  checkPaths?: boolean;
  noValidate?: boolean;
}

const validated = new Set<string>();

/**
 * The engine's StateMachine, validating `definition` only the first time this process builds it with
 * these options: asl-validator compiles its JSON schema with ajv on every call (measured ~0.3 s of
 * CPU, a tenth of a small local day, twice per run), and a definition it accepted once it accepts again.
 * @throws Error when the definition is invalid (every time: a refused definition is not remembered).
 */
export function stateMachine(definition: object, validationOptions: ValidationOptions): StateMachine {
  if (validationOptions.noValidate === true) {
    return new StateMachine(definition as never, { validationOptions });
  }
  const key = JSON.stringify([definition, validationOptions]);
  const machine = new StateMachine(definition as never, {
    validationOptions: validated.has(key) ? { noValidate: true } : validationOptions,
  });
  validated.add(key);
  return machine;
}
