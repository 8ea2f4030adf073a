import { ExecutionAlreadyExists, ListExecutionsCommand, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { describe, expect, it } from "vitest";
import { LocalStepFunctions } from "../../src/live/executions";
import type { RunState } from "../../src/run/execute";

/** A start whose runs end as the test says: resolve(state) or reject(error). */
function controlledStart() {
  const ends = new Map<string, { resolve(state: RunState): void; reject(error: unknown): void }>();
  const start = ({ name }: { name: string }) =>
    new Promise<RunState>((resolve, reject) => ends.set(name, { resolve, reject }));
  return { start, ends };
}

describe("LocalStepFunctions, Step Functions as the live day's starter sees it", () => {
  it("answers a repeated start of an open execution with the same name and input, refuses any other reuse", async () => {
    // Prepare
    const { start } = controlledStart();
    const sfn = new LocalStepFunctions(start);
    const command = () =>
      new StartExecutionCommand({ stateMachineArn: "arn", name: "push-0001Z", input: "{}" });

    // Act
    const first = (await sfn.client.send(command())) as { executionArn: string };
    const again = (await sfn.client.send(command())) as { executionArn: string };

    // Assess
    expect(again.executionArn).toBe(first.executionArn);
    await expect(
      sfn.client.send(
        new StartExecutionCommand({ stateMachineArn: "arn", name: "push-0001Z", input: '{"x":1}' }),
      ),
    ).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    expect(sfn.executions).toHaveLength(1);
  });

  it("lists newest first, with the end time of an execution that failed, and none while running", async () => {
    // Prepare
    const { start, ends } = controlledStart();
    const sfn = new LocalStepFunctions(start);
    await sfn.client.send(new StartExecutionCommand({ stateMachineArn: "arn", name: "a", input: "{}" }));
    await sfn.client.send(new StartExecutionCommand({ stateMachineArn: "arn", name: "b", input: "{}" }));

    // Act
    ends.get("a")!.reject(new Error("Lambda.Unknown"));
    await sfn.executions[0]!.done;
    const all = (await sfn.client.send(new ListExecutionsCommand({ stateMachineArn: "arn" }))) as {
      executions: { name: string; status: string; startDate: Date; stopDate?: Date }[];
    };
    const failed = (await sfn.client.send(
      new ListExecutionsCommand({ stateMachineArn: "arn", statusFilter: "FAILED" }),
    )) as { executions: { name: string }[] };

    // Assess
    expect(all.executions.map((execution) => [execution.name, execution.status])).toEqual([
      ["b", "RUNNING"],
      ["a", "FAILED"],
    ]);
    expect(all.executions[0]!.stopDate).toBeUndefined();
    expect(all.executions[1]!.stopDate!.getTime()).toBeGreaterThanOrEqual(
      all.executions[1]!.startDate.getTime(),
    );
    expect(failed.executions.map((execution) => execution.name)).toEqual(["a"]);
  });
});
