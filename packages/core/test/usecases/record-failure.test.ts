import { describe, expect, it } from "vitest";
import type { GranuleError } from "../../src/domain/granule";
import { type RecordFailureDeps, recordFailure } from "../../src/usecases/record-failure";
import { makeRecord } from "../helpers/use-case-fakes";

/** A store whose markFailed notes its arguments, or throws `failWith`. */
function aFailureStore(failWith?: Error) {
  const calls: { granuleId: string; error: GranuleError; options?: { owner?: string } }[] = [];
  const store: RecordFailureDeps["store"] = {
    async markFailed(granuleId, error, options) {
      calls.push({ granuleId, error, options });
      if (failWith !== undefined) throw failWith;
      return makeRecord({ granuleId, status: "FAILED", lastError: error });
    },
  };
  return { store, calls };
}

describe("recordFailure", () => {
  it("records the error's name and message under the caller's lease owner", async () => {
    const { store, calls } = aFailureStore();
    const error = new Error("410 Gone");
    error.name = "GranuleGoneError";
    await recordFailure({ granuleId: "g-1", owner: "exec-1", error }, { store });
    expect(calls).toEqual([
      {
        granuleId: "g-1",
        error: { name: "GranuleGoneError", message: "410 Gone" },
        options: { owner: "exec-1" },
      },
    ]);
  });

  it("records something thrown that is not an Error as Error with its text", async () => {
    const { store, calls } = aFailureStore();
    await recordFailure({ granuleId: "g-2", owner: "exec-2", error: "socket hang up" }, { store });
    expect(calls[0]?.error).toEqual({ name: "Error", message: "socket hang up" });
  });

  it("logs a failure to record and does not throw it in place of the download's error", async () => {
    const { store } = aFailureStore(new Error("ProvisionedThroughputExceededException"));
    const logged: { message: string; extra: Record<string, unknown>[] }[] = [];
    const logger = {
      info: (message: string, ...extra: Record<string, unknown>[]) => logged.push({ message, extra }),
    };
    const error = new Error("timed out");
    error.name = "HubUnavailableError";
    await expect(
      recordFailure({ granuleId: "g-3", owner: "exec-3", error }, { store, logger }),
    ).resolves.toBeUndefined();
    expect(logged).toEqual([
      {
        message: "could not record the failed attempt",
        extra: [
          {
            granuleId: "g-3",
            error: { name: "HubUnavailableError", message: "timed out" },
            recordError: "ProvisionedThroughputExceededException",
          },
        ],
      },
    ]);
  });
});
