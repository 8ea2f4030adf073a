import {
  DownloaderError,
  ERROR_CLASSES,
  FINAL_ERROR_NAMES,
  QUERY_FAILURE_ERROR_NAMES,
} from "@hls-s2/core/errors";
import { describe, expect, it } from "vitest";
import { DataFolderInUseError, STATES_ERROR_NAMES, StatesError } from "../src/errors";

describe("the local mode's own errors", () => {
  it("keeps the Step Functions service errors out of the retried ones", () => {
    const error = new StatesError("States.ItemReaderFailed", "unreadable");
    expect(error).toMatchObject({ name: "States.ItemReaderFailed", retryable: false });
    // Not one of the handlers' errors, so no retrier and no hub call treats it as transient.
    expect(error).not.toBeInstanceOf(DownloaderError);
  });

  it("names the data folder and its holder, and chains the cause", () => {
    const cause = new Error("underneath");
    const error = new DataFolderInUseError("/data", 42, { cause, lockFile: "/data/run.lock", detail: "(x)" });

    expect(error).toMatchObject({
      name: "DataFolderInUseError",
      message: "data folder /data in use by PID 42 (x)",
      dataDir: "/data",
      pid: 42,
      lockFile: "/data/run.lock",
      cause,
    });
    // Not one of the handlers' errors, so no retrier and no hub call treats it as transient.
    expect(error).not.toBeInstanceOf(DownloaderError);
  });

  it("stay out of the Lambda error contract and the state machine's lists", () => {
    const names = ["DataFolderInUseError", ...STATES_ERROR_NAMES];
    const contract = [...Object.keys(ERROR_CLASSES), ...FINAL_ERROR_NAMES, ...QUERY_FAILURE_ERROR_NAMES];
    expect(contract.filter((name) => names.includes(name))).toEqual([]);
  });
});
