import {
  DescribeExecutionCommand,
  type ExecutionStatus,
  ListExecutionsCommand,
  RedriveExecutionCommand,
  SFNClient,
} from "@aws-sdk/client-sfn";
import { InvalidInputError } from "@hls-s2/core/errors";
import { mockClient } from "aws-sdk-client-mock";
import "aws-sdk-client-mock-vitest/extend";
import { beforeEach, describe, expect, it } from "vitest";
import { redrive, redriveLocalExecution } from "../src/commands/redrive";
import { executionArn, STATE_MACHINE_ARN, sfnTarget } from "./helpers/aws";

const NOW = new Date("2025-06-10T12:00:00Z");
const sfn = mockClient(SFNClient);

interface FakeExecution {
  name: string;
  status: ExecutionStatus;
  input: object;
  startDate: string;
  redriveStatus?: "REDRIVABLE" | "NOT_REDRIVABLE";
  redriveStatusReason?: string;
}

/** Serves ListExecutions (newest first) and DescribeExecution for these executions; RedriveExecution succeeds. */
function serve(executions: FakeExecution[]): void {
  const sorted = [...executions].sort((a, b) => b.startDate.localeCompare(a.startDate));
  sfn.on(ListExecutionsCommand).resolves({
    executions: sorted.map((e) => ({
      executionArn: executionArn(e.name),
      stateMachineArn: STATE_MACHINE_ARN,
      name: e.name,
      status: e.status,
      startDate: new Date(e.startDate),
    })),
  });
  for (const e of executions) {
    const stopped = e.status !== "RUNNING";
    sfn.on(DescribeExecutionCommand, { executionArn: executionArn(e.name) }).resolves({
      executionArn: executionArn(e.name),
      stateMachineArn: STATE_MACHINE_ARN,
      name: e.name,
      status: e.status,
      input: JSON.stringify(e.input),
      startDate: new Date(e.startDate),
      ...(stopped && { stopDate: new Date(Date.parse(e.startDate) + 3_600_000) }),
      redriveStatus:
        e.redriveStatus ??
        (["FAILED", "TIMED_OUT", "ABORTED"].includes(e.status) ? "REDRIVABLE" : "NOT_REDRIVABLE"),
      ...(e.redriveStatusReason !== undefined && { redriveStatusReason: e.redriveStatusReason }),
    });
  }
  sfn.on(RedriveExecutionCommand).resolves({ redriveDate: NOW });
}

beforeEach(() => {
  sfn.reset();
});

describe("redrive --day", () => {
  it("redrives only the FAILED and ABORTED executions covering the day, skipping SUCCEEDED and RUNNING with a reason", async () => {
    const window = { from: "2025-06-01", to: "2025-06-03" };
    serve([
      { name: "done", status: "SUCCEEDED", input: window, startDate: "2025-06-04T12:00:00Z" },
      { name: "failed", status: "FAILED", input: window, startDate: "2025-06-05T12:00:00Z" },
      { name: "running", status: "RUNNING", input: window, startDate: "2025-06-06T12:00:00Z" },
      { name: "aborted", status: "ABORTED", input: window, startDate: "2025-06-07T12:00:00Z" },
    ]);

    const result = await redrive({ day: "2025-06-02" }, { sfn: sfnTarget(), now: NOW });

    expect(sfn).toHaveReceivedCommandTimes(RedriveExecutionCommand, 2);
    expect(sfn).toHaveReceivedCommandWith(RedriveExecutionCommand, { executionArn: executionArn("failed") });
    expect(sfn).toHaveReceivedCommandWith(RedriveExecutionCommand, { executionArn: executionArn("aborted") });
    expect(result.redriven.map((r) => r.name).sort()).toEqual(["aborted", "failed"]);
    expect(result.skipped.map((s) => [s.name, s.status])).toEqual([
      ["running", "RUNNING"],
      ["done", "SUCCEEDED"],
    ]);
    expect(result.skipped[0]?.reason).toMatch(/only FAILED, TIMED_OUT, ABORTED/);
    expect(result.skipped[1]?.reason).toMatch(/requeue --day/);
  });

  it("leaves failed executions whose window does not cover the day alone", async () => {
    serve([
      {
        name: "other-days",
        status: "FAILED",
        input: { from: "2025-06-05", to: "2025-06-06" },
        startDate: "2025-06-08T12:00:00Z",
      },
      { name: "bad-input", status: "FAILED", input: { from: "nonsense" }, startDate: "2025-06-08T13:00:00Z" },
    ]);

    const result = await redrive({ day: "2025-06-02" }, { sfn: sfnTarget(), now: NOW });

    expect(sfn).not.toHaveReceivedCommand(RedriveExecutionCommand);
    expect(result).toEqual({ redriven: [], skipped: [] });
  });

  it("counts a scheduled execution ({} input) as covering the look-back days before it started", async () => {
    serve([
      { name: "daily-0605", status: "TIMED_OUT", input: {}, startDate: "2025-06-05T12:00:00Z" },
      { name: "daily-0606", status: "FAILED", input: {}, startDate: "2025-06-06T12:00:00Z" },
    ]);

    const result = await redrive({ day: "2025-06-04" }, { sfn: sfnTarget(), now: NOW, lookbackDays: 1 });

    expect(result.redriven.map((r) => r.name)).toEqual(["daily-0605"]);
    expect(sfn).toHaveReceivedCommandOnce(RedriveExecutionCommand);
  });

  it("stops at executions started before the day, which cannot cover it", async () => {
    serve([
      { name: "newer", status: "FAILED", input: { from: "2025-06-02" }, startDate: "2025-06-03T12:00:00Z" },
      {
        name: "older",
        status: "FAILED",
        input: { from: "2025-05-30", to: "2025-06-01" },
        startDate: "2025-06-01T12:00:00Z",
      },
    ]);

    await redrive({ day: "2025-06-02" }, { sfn: sfnTarget(), now: NOW });

    expect(sfn).toHaveReceivedCommandOnce(DescribeExecutionCommand);
    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: executionArn("newer") });
  });
});

describe("redrive --execution", () => {
  it("redrives a FAILED execution by ARN", async () => {
    serve([{ name: "failed", status: "FAILED", input: {}, startDate: "2025-06-09T12:00:00Z" }]);

    const result = await redrive({ executionArn: executionArn("failed") }, { sfn: sfnTarget(), now: NOW });

    expect(sfn).toHaveReceivedCommandExactlyOnceWith(RedriveExecutionCommand, {
      executionArn: executionArn("failed"),
    });
    expect(result.redriven).toEqual([
      {
        executionArn: executionArn("failed"),
        name: "failed",
        status: "FAILED",
        redriveDate: NOW.toISOString(),
      },
    ]);
  });

  it("skips a SUCCEEDED execution without calling RedriveExecution", async () => {
    serve([{ name: "done", status: "SUCCEEDED", input: {}, startDate: "2025-06-09T12:00:00Z" }]);

    const result = await redrive({ executionArn: executionArn("done") }, { sfn: sfnTarget(), now: NOW });

    expect(sfn).not.toHaveReceivedCommand(RedriveExecutionCommand);
    expect(result.skipped).toHaveLength(1);
  });

  it("skips a failed execution Step Functions marks not redrivable, with its reason", async () => {
    serve([
      {
        name: "stale",
        status: "FAILED",
        input: {},
        startDate: "2025-06-09T12:00:00Z",
        redriveStatus: "NOT_REDRIVABLE",
        redriveStatusReason: "Execution is RUNNING and cannot be redriven",
      },
    ]);

    const result = await redrive({ executionArn: executionArn("stale") }, { sfn: sfnTarget(), now: NOW });

    expect(sfn).not.toHaveReceivedCommand(RedriveExecutionCommand);
    expect(result.skipped[0]?.reason).toContain("Execution is RUNNING and cannot be redriven");
  });

  it("needs exactly one of --execution and --day", async () => {
    await expect(redrive({}, { sfn: sfnTarget() })).rejects.toThrow(InvalidInputError);
    await expect(
      redrive({ day: "2025-06-02", executionArn: executionArn("x") }, { sfn: sfnTarget() }),
    ).rejects.toMatchObject({ field: "execution" });
    await expect(redrive({ day: "2025-06-31" }, { sfn: sfnTarget() })).rejects.toMatchObject({
      field: "day",
    });
  });
});

describe("redriveLocalExecution", () => {
  const summary = { executionName: "local-1", status: "SUCCEEDED" } as never;

  it("redrives the named local execution, or the newest FAILED one without a name", async () => {
    const asked: unknown[] = [];
    const deps = {
      redrive: async (input: { executionName?: string }) => {
        asked.push(input);
        return summary;
      },
    };
    expect(await redriveLocalExecution({ execution: "local-1" }, deps)).toBe(summary);
    await redriveLocalExecution({}, deps);
    expect(asked).toEqual([{ executionName: "local-1" }, {}]);
  });

  it("refuses --day and an ARN before redriving anything", async () => {
    const deps = {
      redrive: async () => {
        throw new Error("must not run");
      },
    };
    await expect(redriveLocalExecution({ day: "2025-06-01" }, deps)).rejects.toMatchObject({ field: "day" });
    await expect(
      redriveLocalExecution({ execution: "arn:aws:states:us-east-1:1:execution:x:y" }, deps),
    ).rejects.toBeInstanceOf(InvalidInputError);
  });
});
