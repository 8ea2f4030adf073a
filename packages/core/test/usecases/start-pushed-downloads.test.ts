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

  it("takes the whole window after an abnormal end since the newest running run started (less the margin), only what is new otherwise", async () => {
    const now = new Date("2026-12-01T15:07:00Z");
    const running = new Date("2026-12-01T15:05:00Z");
    const ended = (status: string, stopDate: string) => ({
      name: `pushed-${status}`,
      status,
      startDate: new Date("2026-12-01T15:00:00Z"),
      stopDate: new Date(stopDate),
    });
    const start = async (dead: { status: string; stopDate: string } | undefined) => {
      sfnMock.reset();
      sfnMock.on(ListExecutionsCommand).callsFake((input: { statusFilter: string }) => ({
        executions:
          input.statusFilter === "RUNNING"
            ? [{ name: "pushed-20261201T1505Z", status: "RUNNING", startDate: running }]
            : dead !== undefined && input.statusFilter === dead.status
              ? [ended(dead.status, dead.stopDate)]
              : [],
      }));
      sfnMock.on(StartExecutionCommand).resolves({ executionArn: `${ARN}:x` });
      const result = await startPushedDownloads(
        {
          store: storeWithDiscoveredOn("2026-12-01"),
          sfn: new SFNClient({ region: "us-west-2" }),
          stateMachineArn: ARN,
        },
        { now: () => now, lookbackDays: 1 },
      );
      return {
        result,
        input: JSON.parse(sfnMock.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!),
      };
    };

    for (const status of ["FAILED", "TIMED_OUT", "ABORTED"]) {
      // Ended 90 s before the newest running run started: within the 2-minute margin.
      const { result, input } = await start({ status, stopDate: "2026-12-01T15:03:30Z" });
      expect(result, status).toMatchObject({ started: true, reconciles: `pushed-${status}` });
      expect(input, status).toEqual({ downloadOnly: true });
    }
    // Ended long before: the newest running run's manifest was read after it, so it holds that share.
    const earlier = await start({ status: "FAILED", stopDate: "2026-12-01T14:50:00Z" });
    expect(earlier.result).not.toHaveProperty("reconciles");
    expect(earlier.input).toEqual({ downloadOnly: true, recordedSince: "2026-12-01T15:04:30.000Z" });
    const none = await start(undefined);
    expect(none.input).toEqual({ downloadOnly: true, recordedSince: "2026-12-01T15:04:30.000Z" });
    await expect(
      startPushedDownloads(
        {
          store: storeWithDiscoveredOn(undefined),
          sfn: new SFNClient({ region: "us-west-2" }),
          stateMachineArn: ARN,
        },
        { abnormalEndMarginMs: -1 },
      ),
    ).rejects.toMatchObject({ field: "abnormalEndMarginMs" });
  });

  it("starts a run for a DOWNLOADING granule whose lease expired, and not for one whose worker still renews it", async () => {
    const now = new Date("2026-12-01T15:07:00Z");
    const store = (leaseExpiresAt: number) => ({
      listByStatus: async (_day: string, status: string) =>
        status === "DOWNLOADING"
          ? [{ granuleId: "g1", status: "DOWNLOADING", leaseExpiresAt } as GranuleRecord]
          : [],
    });
    sfnMock.on(ListExecutionsCommand).resolves({ executions: [] });
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: `${ARN}:x` });
    const deps = { sfn: new SFNClient({ region: "us-west-2" }), stateMachineArn: ARN };
    const live = await startPushedDownloads(
      { ...deps, store: store(now.getTime()) },
      { now: () => now, lookbackDays: 1 },
    );
    expect(live).toMatchObject({ started: false });
    const expired = await startPushedDownloads(
      { ...deps, store: store(now.getTime() - 1) },
      { now: () => now, lookbackDays: 1 },
    );
    expect(expired).toMatchObject({ started: true, executionName: "pushed-20261201T1507Z" });
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
