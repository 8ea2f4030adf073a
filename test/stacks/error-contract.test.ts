import {
  BACKOFF_RETRY,
  ERROR_CLASSES,
  errorNamesOf,
  FINAL_ERROR_NAMES,
  MISMATCH_ERROR_NAMES,
  MISMATCH_MAX_ATTEMPTS,
  MISMATCH_RETRY_INTERVAL_SECONDS,
  QUERY_FAILURE_ERROR_NAMES,
  RETRYABLE_ERROR_NAMES,
  type RetryKind,
  RUN_STOPPING_ERROR_NAMES,
  SESSIONS_EXHAUSTED_ERROR_NAMES,
  SESSIONS_EXHAUSTED_RETRY,
  SLOT_WAIT_ERROR_NAMES,
  SLOT_WAIT_RETRY,
  TERMINAL_ERROR_NAMES,
  UNHANDLED_ERROR_NAMES,
  UNHANDLED_RETRY,
} from "@hls-s2/core/errors";
import { beforeAll, describe, expect, it } from "vitest";
import { type StateMachineDefinition, synthesizeApp } from "./synthesized";

/**
 * The other half of core's errors.test: the Retry lists the stack synthesizes are exactly the retry
 * kinds the error classes declare (packages/core/src/domain/errors/), each with that kind's policy.
 */
const kindOf = (name: string): RetryKind | undefined =>
  (ERROR_CLASSES as Record<string, { retry: RetryKind }>)[name]?.retry;

interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  BackoffRate?: number;
  MaxAttempts?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: string;
}

/** Every Task state of the definition, nested processors included, by name. */
function tasksOf(definition: StateMachineDefinition): Map<string, Record<string, unknown>> {
  const tasks = new Map<string, Record<string, unknown>>();
  const walk = (states: Record<string, Record<string, unknown>>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === "Task") tasks.set(name, state);
      const processor = (state.ItemProcessor ?? state.Iterator) as
        | { States: Record<string, Record<string, unknown>> }
        | undefined;
      if (processor) walk(processor.States);
    }
  };
  walk(definition.States);
  return tasks;
}

/** Names our handlers raise, as opposed to Lambda's and Step Functions' own. */
const ours = (names: string[]) => names.filter((name) => !/^(Lambda|States)\./.test(name));

/** The retriers that retry (MaxAttempts 0 stops a name: "May be 0 to disable retry for specific errors"). */
const retrying = (task: Record<string, unknown>) =>
  ((task.Retry ?? []) as Retrier[]).filter((retrier) => retrier.MaxAttempts !== 0);

/**
 * The retrier Step Functions applies to `error`: the first whose ErrorEquals names it, or holds
 * States.ALL, or States.TaskFailed ("a wildcard that matches any known error name except for
 * States.Timeout"). An exhausted retrier does not hand the error on to the next one.
 */
function retrierFor(task: Record<string, unknown>, error: string): Retrier | undefined {
  return ((task.Retry ?? []) as Retrier[]).find(
    (retrier) =>
      retrier.ErrorEquals.includes(error) ||
      retrier.ErrorEquals.includes("States.ALL") ||
      (retrier.ErrorEquals.includes("States.TaskFailed") && error !== "States.Timeout"),
  );
}

/** How many times Step Functions retries `error` on `task` (MaxAttempts defaults to 3). */
const retriesOf = (task: Record<string, unknown>, error: string) => {
  const retrier = retrierFor(task, error);
  return retrier === undefined ? 0 : (retrier.MaxAttempts ?? 3);
};

describe("the synthesized state machine", () => {
  let tasks: Map<string, Record<string, unknown>>;

  beforeAll(async () => {
    tasks = tasksOf((await synthesizeApp({ stage: "test" })).stateMachineDefinition());
  });

  it("retries only declared error classes, each retrier one retry kind, never a terminal one", () => {
    expect(tasks.size).toBeGreaterThan(0);
    for (const [, task] of tasks) {
      for (const retrier of retrying(task)) {
        const names = ours(retrier.ErrorEquals);
        if (names.length === 0) continue;
        const kinds = new Set(names.map(kindOf));
        expect(kinds.size).toBe(1);
        const [kind] = [...kinds];
        expect(kind).toBeDefined();
        expect(["terminal", "unretried"]).not.toContain(kind);
        // The whole kind, never part of it.
        expect([...names].sort()).toEqual([...errorNamesOf(kind!)].sort());
      }
      for (const catcher of (task.Catch ?? []) as Retrier[]) {
        for (const name of ours(catcher.ErrorEquals)) expect(kindOf(name)).toBeDefined();
      }
    }
  });

  it("gives the download one retrier per retried kind, with that kind's own policy", () => {
    const download = tasks.get("Download")!;
    const retriers = download.Retry as Retrier[];
    const retrierOf = (kind: RetryKind) =>
      retriers.find((retrier) => ours(retrier.ErrorEquals).some((name) => kindOf(name) === kind));

    expect(retrierOf("backoff")).toMatchObject({ ErrorEquals: [...RETRYABLE_ERROR_NAMES] });
    const policies = [
      ["slotWait", SLOT_WAIT_ERROR_NAMES, SLOT_WAIT_RETRY],
      ["sessionsExhausted", SESSIONS_EXHAUSTED_ERROR_NAMES, SESSIONS_EXHAUSTED_RETRY],
    ] as const;
    for (const [kind, names, policy] of policies) {
      expect(retrierOf(kind)).toMatchObject({
        ErrorEquals: [...names],
        IntervalSeconds: policy.intervalSeconds,
        BackoffRate: policy.backoffRate,
        MaxDelaySeconds: policy.maxDelaySeconds,
        MaxAttempts: policy.maxAttempts,
      });
    }
    expect(retrierOf("mismatch")).toMatchObject({
      ErrorEquals: [...MISMATCH_ERROR_NAMES],
      MaxAttempts: MISMATCH_MAX_ATTEMPTS,
    });
    // No Catch: the handler records FAILED itself, so terminal names end the child at Download.
    expect(download.Catch).toBeUndefined();
  });

  it("gives every backoff retrier core's BACKOFF_RETRY, and the mismatch retrier its interval", () => {
    for (const [, task] of tasks) {
      for (const retrier of retrying(task)) {
        const names = ours(retrier.ErrorEquals);
        if (names.length === 0) continue;
        if (kindOf(names[0]!) === "backoff") {
          expect(retrier).toMatchObject({
            IntervalSeconds: BACKOFF_RETRY.intervalSeconds,
            BackoffRate: BACKOFF_RETRY.backoffRate,
            MaxDelaySeconds: BACKOFF_RETRY.maxDelaySeconds,
            MaxAttempts: BACKOFF_RETRY.maxAttempts,
            JitterStrategy: "FULL",
          });
        }
        if (kindOf(names[0]!) === "mismatch") {
          expect(retrier.IntervalSeconds).toBe(MISMATCH_RETRY_INTERVAL_SECONDS);
        }
      }
    }
  });

  it("retries a page fetch on the backoff kind only", () => {
    const retried = retrying(tasks.get("FetchPage")!).flatMap((r) => ours(r.ErrorEquals));
    expect(retried).toEqual([...RETRYABLE_ERROR_NAMES]);
  });

  it("retries a Lambda killed or failed without a typed error on the idempotent tasks, with core's policy", () => {
    for (const name of ["Download", "FetchPage", "RecordQueryFailure"]) {
      const task = tasks.get(name)!;
      for (const error of [...UNHANDLED_ERROR_NAMES, "TypeError", "ThrottlingException"]) {
        expect(retrierFor(task, error), `${name} ${error}`).toMatchObject({
          ErrorEquals: [...UNHANDLED_ERROR_NAMES],
          IntervalSeconds: UNHANDLED_RETRY.intervalSeconds,
          BackoffRate: UNHANDLED_RETRY.backoffRate,
          MaxDelaySeconds: UNHANDLED_RETRY.maxDelaySeconds,
          MaxAttempts: UNHANDLED_RETRY.maxAttempts,
          JitterStrategy: "FULL",
        });
      }
      // The task's own retriers still come first.
      for (const error of RETRYABLE_ERROR_NAMES) {
        expect(retriesOf(task, error), `${name} ${error}`).toBe(BACKOFF_RETRY.maxAttempts);
      }
    }
  });

  it("never lets the wildcard retry a final name: terminal and unretried stop at once, a mismatch after its own retrier", () => {
    for (const [name, task] of tasks) {
      for (const error of FINAL_ERROR_NAMES) {
        const expected = name === "Download" && kindOf(error) === "mismatch" ? MISMATCH_MAX_ATTEMPTS : 0;
        expect(retriesOf(task, error), `${name} ${error}`).toBe(expected);
      }
    }
    // Every terminal name is final, so none is ever retried anywhere.
    expect(FINAL_ERROR_NAMES).toEqual(expect.arrayContaining([...TERMINAL_ERROR_NAMES]));
    // The stopping retrier holds exactly the final names, and only before the wildcard.
    for (const name of ["Download", "FetchPage", "RecordQueryFailure"]) {
      const retriers = (tasks.get(name)!.Retry ?? []) as Retrier[];
      const stop = retriers.findIndex((retrier) => retrier.MaxAttempts === 0);
      const wildcard = retriers.findIndex((retrier) => retrier.ErrorEquals.includes("States.TaskFailed"));
      expect(retriers[stop]?.ErrorEquals).toEqual([...FINAL_ERROR_NAMES]);
      expect(stop).toBeGreaterThanOrEqual(0);
      expect(stop).toBeLessThan(wildcard);
    }
  });

  it("ends one failing query's iteration by recording its failure, never the FetchLinks map", () => {
    const fetchPage = tasks.get("FetchPage")!;
    expect(fetchPage.Catch).toEqual([
      { ErrorEquals: [...QUERY_FAILURE_ERROR_NAMES], ResultPath: "$.failure", Next: "RecordQueryFailure" },
    ]);
    // A Lambda killed after its retries, a terminal hub answer: caught. Credentials refused: the run fails.
    expect(QUERY_FAILURE_ERROR_NAMES).toEqual(
      expect.arrayContaining(["Lambda.Unknown", "InvalidHubDataError"]),
    );
    for (const name of RUN_STOPPING_ERROR_NAMES) expect(QUERY_FAILURE_ERROR_NAMES).not.toContain(name);
    expect(QUERY_FAILURE_ERROR_NAMES).not.toContain("States.ALL");
    const record = tasks.get("RecordQueryFailure")!;
    // The FetchPage function itself records it, on the query's cursor item.
    expect(record.Resource).toBe(fetchPage.Resource);
    expect(record).toMatchObject({
      End: true,
      Parameters: {
        "day.$": "$.day",
        "platform.$": "$.platform",
        "failure.$": "$.failure",
        "executionName.$": "$$.Execution.Name",
      },
    });
    expect(record.Catch).toBeUndefined();
  });
});
