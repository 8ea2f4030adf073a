import { ListExecutionsCommand, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { InvalidInputError } from "../../src/domain/errors";
import type { GranuleRecord } from "../../src/domain/granule";
import {
  pushedDownloadsExecutionName,
  startPushedDownloads,
} from "../../src/usecases/start-pushed-downloads";

const sfnMock = mockClient(SFNClient);
afterEach(() => sfnMock.reset());

const ARN = "arn:aws:states:us-west-2:123456789012:stateMachine:granules";

/** A store whose index holds one DISCOVERED granule on `day`; records which days were asked. */
function storeWithDiscoveredOn(day: string | undefined) {
  const asked: string[] = [];
  return {
    asked,
    listByStatus: async (queried: string, status: string) => {
      asked.push(`${queried} ${status}`);
      return queried === day ? [{ granuleId: "g1" } as GranuleRecord] : [];
    },
  };
}

describe("pushedDownloadsExecutionName", () => {
  it("names the minute of the firing, the same for every instant in it and never with a colon", () => {
    expect(pushedDownloadsExecutionName(new Date("2026-12-01T15:05:00.000Z"))).toBe("pushed-20261201T1505Z");
    expect(pushedDownloadsExecutionName(new Date("2026-12-01T15:05:59.999Z"))).toBe("pushed-20261201T1505Z");
    expect(pushedDownloadsExecutionName(new Date("2026-12-01T15:06:00.000Z"))).toBe("pushed-20261201T1506Z");
    expect(pushedDownloadsExecutionName(new Date("2026-12-01T15:06:00.000Z"), "poll")).toBe(
      "poll-20261201T1506Z",
    );
  });
});

describe("startPushedDownloads", () => {
  it("asks today's index first and stops at the first DISCOVERED granule", async () => {
    sfnMock.on(ListExecutionsCommand).resolves({ executions: [] });
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: `${ARN}:x`, startDate: new Date() });
    const store = storeWithDiscoveredOn("2026-12-01");
    const result = await startPushedDownloads(
      { store, sfn: new SFNClient({ region: "us-west-2" }), stateMachineArn: ARN },
      { now: () => new Date("2026-12-01T15:07:00Z"), lookbackDays: 2 },
    );
    expect(store.asked).toEqual(["2026-12-01 DISCOVERED"]);
    expect(result).toMatchObject({ started: true, days: ["2026-11-29", "2026-11-30", "2026-12-01"] });
  });

  it("ignores running executions that are not pushed-granules runs (the daily run, a backfill)", async () => {
    sfnMock.on(ListExecutionsCommand).resolves({
      executions: [
        { name: "daily-2026-12-01", status: "RUNNING" } as never,
        { name: "ops-backfill-x" } as never,
      ],
    });
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: `${ARN}:x` });
    const result = await startPushedDownloads(
      {
        store: storeWithDiscoveredOn("2026-11-30"),
        sfn: new SFNClient({ region: "us-west-2" }),
        stateMachineArn: ARN,
      },
      { now: () => new Date("2026-12-01T15:07:00Z") },
    );
    expect(result).toMatchObject({ started: true, executionName: "pushed-20261201T1507Z" });
    expect(sfnMock.commandCalls(ListExecutionsCommand)[0]!.args[0].input).toMatchObject({
      statusFilter: "RUNNING",
    });
  });

  it("starts a poll of yesterday and today named by its firing's minute, without asking the table", async () => {
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: `${ARN}:poll` });
    const store = storeWithDiscoveredOn(undefined);
    const result = await startPushedDownloads(
      { store, sfn: new SFNClient({ region: "us-west-2" }), stateMachineArn: ARN },
      { now: () => new Date("2026-12-01T15:07:00Z"), kind: "poll" },
    );
    expect(result).toMatchObject({ started: true, executionName: "poll-20261201T1507Z" });
    expect(sfnMock.commandCalls(StartExecutionCommand)[0]!.args[0].input).toMatchObject({
      name: "poll-20261201T1507Z",
      input: '{"poll":true}',
    });
    expect(store.asked).toEqual([]);
  });

  it("rethrows a Step Functions failure other than ExecutionAlreadyExists", async () => {
    sfnMock.on(ListExecutionsCommand).resolves({ executions: [] });
    sfnMock
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error("rate exceeded"), { name: "ThrottlingException" }));
    await expect(
      startPushedDownloads({
        store: storeWithDiscoveredOn(new Date().toISOString().slice(0, 10)),
        sfn: new SFNClient({ region: "us-west-2" }),
        stateMachineArn: ARN,
      }),
    ).rejects.toMatchObject({ name: "ThrottlingException" });
  });

  it("refuses an empty state machine ARN or a clock that is not a function, naming the option", async () => {
    const deps = { store: storeWithDiscoveredOn(undefined), sfn: new SFNClient({ region: "us-west-2" }) };
    await expect(startPushedDownloads({ ...deps, stateMachineArn: "" })).rejects.toMatchObject({
      field: "stateMachineArn",
    });
    await expect(
      startPushedDownloads({ ...deps, stateMachineArn: ARN }, { now: "now" as never }),
    ).rejects.toBeInstanceOf(InvalidInputError);
  });
});
