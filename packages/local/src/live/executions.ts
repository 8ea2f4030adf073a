import { ExecutionAlreadyExists, type SFNClient } from "@aws-sdk/client-sfn";
import { LOCAL_STATE_MACHINE_ARN } from "../aws";
import type { RunState } from "../run/execute";

interface LocalExecution {
  name: string;
  input: string;
  status: "RUNNING" | "SUCCEEDED" | "FAILED";
  startDate: Date;
  /** When it ended, as ListExecutions reports it (the starter compares a failed run's end with the newest running start). */
  stopDate?: Date;
  done: Promise<void>;
  state?: RunState;
  error?: unknown;
}

/**
 * Step Functions as core's starter sees it (ListExecutions, StartExecution) over the local runner's
 * executions, with StartExecution's name rules: the same name and input of an open execution answers
 * it again, anything else of a used name is ExecutionAlreadyExists. ListExecutions is newest first.
 */
export class LocalStepFunctions {
  readonly #start: (spec: { name: string; input: Record<string, unknown> }) => Promise<RunState>;
  readonly #executions: LocalExecution[] = [];

  constructor(start: (spec: { name: string; input: Record<string, unknown> }) => Promise<RunState>) {
    this.#start = start;
  }

  /** The SFNClient face core's startPushedDownloads takes. */
  get client(): SFNClient {
    return { send: (command: unknown) => this.send(command) } as unknown as SFNClient;
  }

  // By the command's name: core may resolve another copy of the SDK than this package.
  async send(command: unknown): Promise<unknown> {
    const kind = (command as object).constructor.name;
    if (kind === "StartExecutionCommand") {
      const { name = "", input = "{}" } = (command as { input: { name?: string; input?: string } }).input;
      const same = this.#executions.find((execution) => execution.name === name);
      if (same !== undefined) {
        if (same.status === "RUNNING" && same.input === input) return this.#answer(same);
        throw new ExecutionAlreadyExists({ message: `Execution Already Exists: '${name}'`, $metadata: {} });
      }
      const execution: LocalExecution = {
        name,
        input,
        status: "RUNNING",
        startDate: new Date(),
        done: Promise.resolve(),
      };
      execution.done = this.#start({ name, input: JSON.parse(input) as Record<string, unknown> }).then(
        (state) => {
          execution.state = state;
          execution.status = state.record.status === "FAILED" ? "FAILED" : "SUCCEEDED";
          execution.stopDate = new Date();
        },
        (error: unknown) => {
          execution.error = error;
          execution.status = "FAILED";
          execution.stopDate = new Date();
        },
      );
      this.#executions.push(execution);
      return this.#answer(execution);
    }
    if (kind === "ListExecutionsCommand") {
      const { statusFilter } = (command as { input: { statusFilter?: string } }).input;
      return {
        executions: this.#executions
          .filter((execution) => statusFilter === undefined || execution.status === statusFilter)
          .reverse()
          .map((execution) => ({
            name: execution.name,
            status: execution.status,
            startDate: execution.startDate,
            ...(execution.stopDate === undefined ? {} : { stopDate: execution.stopDate }),
            executionArn: this.#arn(execution.name),
          })),
      };
    }
    throw new TypeError(`LocalStepFunctions: ${kind} is not modelled`);
  }

  /** Every execution started so far. */
  get executions(): readonly LocalExecution[] {
    return this.#executions;
  }

  /** Waits until every execution started so far (and any they lead to) has ended. */
  async settled(): Promise<void> {
    let seen = -1;
    while (seen !== this.#executions.length) {
      seen = this.#executions.length;
      await Promise.all(this.#executions.map((execution) => execution.done));
    }
  }

  #answer(execution: LocalExecution) {
    return { executionArn: this.#arn(execution.name), startDate: execution.startDate };
  }

  #arn(name: string): string {
    return `${LOCAL_STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:")}:${name}`;
  }
}
