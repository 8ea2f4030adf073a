import {
  BACKOFF_RETRY,
  ERROR_CLASSES,
  errorNamesOf,
  MISMATCH_ERROR_NAMES,
  MISMATCH_MAX_ATTEMPTS,
  MISMATCH_RETRY_INTERVAL_SECONDS,
  RETRYABLE_ERROR_NAMES,
  type RetryKind,
  SESSIONS_EXHAUSTED_ERROR_NAMES,
  SESSIONS_EXHAUSTED_RETRY,
  SLOT_WAIT_ERROR_NAMES,
  SLOT_WAIT_RETRY,
} from "@hls-s2/core";
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

describe("the synthesized state machine", () => {
  let tasks: Map<string, Record<string, unknown>>;

  beforeAll(async () => {
    tasks = tasksOf((await synthesizeApp({ stage: "test" })).stateMachineDefinition());
  });

  it("retries only declared error classes, each retrier one retry kind, never a terminal one", () => {
    expect(tasks.size).toBeGreaterThan(0);
    for (const [, task] of tasks) {
      for (const retrier of (task.Retry ?? []) as Retrier[]) {
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
      for (const retrier of (task.Retry ?? []) as Retrier[]) {
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
    const retried = ((tasks.get("FetchPage")!.Retry ?? []) as Retrier[]).flatMap((r) => ours(r.ErrorEquals));
    expect(retried).toEqual([...RETRYABLE_ERROR_NAMES]);
  });
});
