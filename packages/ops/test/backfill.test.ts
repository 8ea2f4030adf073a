import { SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { GetParametersByPathCommand, SSMClient } from "@aws-sdk/client-ssm";
import { InvalidInputError } from "@hls-s2/core/errors";
import { mockClient } from "aws-sdk-client-mock";
import "aws-sdk-client-mock-vitest/extend";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../src/cli";
import { backfill } from "../src/commands/backfill";
import { sfnLauncher } from "../src/executions";
import { executionArn, STATE_MACHINE_ARN, sfnTarget, stageParameters } from "./helpers/aws";
import { captureIo } from "./helpers/io";

const TODAY = new Date("2025-06-01T12:00:00Z");
const sfn = mockClient(SFNClient);
const ssm = mockClient(SSMClient);

beforeEach(() => {
  sfn.reset();
  ssm.reset();
  sfn.on(StartExecutionCommand).callsFake((input: { name: string }) => ({
    executionArn: executionArn(input.name),
    startDate: new Date("2025-06-01T12:00:01Z"),
  }));
});

afterEach(() => {
  sfn.reset();
  ssm.reset();
});

describe("backfill", () => {
  it("starts one execution with exactly the validated window and platforms", async () => {
    const result = await backfill(
      { from: "2025-05-01", to: "2025-05-03", platforms: ["S2A", "S2B"] },
      { launch: sfnLauncher(sfnTarget()), today: TODAY },
    );

    expect(sfn).toHaveReceivedCommandOnce(StartExecutionCommand);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: STATE_MACHINE_ARN,
      input: JSON.stringify({ from: "2025-05-01", to: "2025-05-03", platforms: ["S2A", "S2B"] }),
    });
    const name = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.name!;
    expect(name).toMatch(/^ops-backfill-2025-05-01_2025-05-03-\d{8}T\d{6}Z$/);
    expect(result.execution).toEqual({
      mode: "aws",
      executionArn: executionArn(name),
      executionName: name,
      consoleUrl: `https://us-west-2.console.aws.amazon.com/states/home?region=us-west-2#/v2/executions/details/${executionArn(name)}`,
      startDate: "2025-06-01T12:00:01.000Z",
    });
  });

  it("passes downloadOnly and leaves platforms to the stage when none are named", async () => {
    await backfill(
      { from: "2025-05-10", downloadOnly: true },
      { launch: sfnLauncher(sfnTarget()), today: TODAY },
    );

    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      input: JSON.stringify({ from: "2025-05-10", to: "2025-05-10", downloadOnly: true }),
    });
  });

  it.each([
    [{ from: "2025-02-30", to: "2025-03-01" }, "from"],
    [{ from: "2025-05-03", to: "2025-05-01" }, "from"],
    [{ from: "2025-04-01", to: "2025-05-15" }, "to"],
    [{ from: "2025-05-01", to: "2025-06-05" }, "to"],
    [{ from: "2025-05-01", platforms: ["S2A", "S1A"] }, "platforms"],
    [{}, "from"],
  ])("rejects %j naming %s, and starts nothing", async (input, field) => {
    const attempt = backfill(input, { launch: sfnLauncher(sfnTarget()), today: TODAY });

    await expect(attempt).rejects.toThrow(InvalidInputError);
    await expect(attempt).rejects.toMatchObject({ field });
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });
});

describe("npm run ops -- backfill", () => {
  it("resolves the stage, starts the execution and prints its console link", async () => {
    ssm
      .on(GetParametersByPathCommand, { Path: "/hls-s2/prod/" })
      .resolves({ Parameters: stageParameters("prod") });
    const { out, io } = captureIo();

    const code = await main(
      ["backfill", "--stage", "prod", "--from", "2025-05-01", "--to", "2025-05-02", "--platforms", "s2a,S2C"],
      io,
    );

    expect(code).toBe(0);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: STATE_MACHINE_ARN,
      input: JSON.stringify({ from: "2025-05-01", to: "2025-05-02", platforms: ["S2A", "S2C"] }),
    });
    expect(out.stdout).toContain(
      "https://us-west-2.console.aws.amazon.com/states/home?region=us-west-2#/v2/executions/details/arn:aws:states:",
    );
  });

  it.each([
    [["--from", "2025-13-01"], "--from"],
    [["--from", "2025-05-03", "--to", "2025-05-01"], "--from"],
    [["--from", "2025-05-01", "--platforms", "S3B"], "--platforms"],
    [["--from", "2025-05-01", "--dry-run"], "--dry-run"],
  ])("exits 2 naming the flag for %j", async (flags, flag) => {
    ssm.on(GetParametersByPathCommand).resolves({ Parameters: stageParameters("prod") });
    const { out, io } = captureIo();

    const code = await main(["backfill", "--stage", "prod", ...flags], io);

    expect(code).toBe(2);
    expect(out.stderr).toContain(`error (${flag})`);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });
});
