import { describe, expect, it } from "vitest";
import * as errors from "../../src/domain/errors";
import {
  DownloaderError,
  type DownloaderErrorName,
  ERROR_CLASSES,
  errorNamesOf,
  isRetryable,
  MISMATCH_ERROR_NAMES,
  RETRY_KINDS,
  RETRYABLE_ERROR_NAMES,
  type RetryKind,
  SESSIONS_EXHAUSTED_ERROR_NAMES,
  SLOT_WAIT_ERROR_NAMES,
  TERMINAL_ERROR_NAMES,
} from "../../src/domain/errors";

const cause = new Error("underneath");

/** One instance of every class, built with its own constructor's arguments. */
const INSTANCES: { [Name in DownloaderErrorName]: () => DownloaderError } = {
  HubThrottledError: () => new ERROR_CLASSES.HubThrottledError("429", { cause, retryAfterSeconds: 3 }),
  HubUnavailableError: () => new ERROR_CLASSES.HubUnavailableError("503", { cause, status: 503 }),
  ChecksumNotPublishedError: () => new ERROR_CLASSES.ChecksumNotPublishedError("g1", { cause }),
  TransferInterruptedError: () => new ERROR_CLASSES.TransferInterruptedError("cut", { cause }),
  TransferTooSlowError: () => new ERROR_CLASSES.TransferTooSlowError("slow", { cause, bytesPerSecond: 1 }),
  ConditionalWriteConflictError: () => new ERROR_CLASSES.ConditionalWriteConflictError("g1", "k", { cause }),
  HubAnswerTooLargeError: () => new ERROR_CLASSES.HubAnswerTooLargeError("big", { cause, maxBytes: 1 }),
  GranuleOfflineError: () => new ERROR_CLASSES.GranuleOfflineError("g1", { cause }),
  AwsUnavailableError: () =>
    new ERROR_CLASSES.AwsUnavailableError("throttled", {
      cause,
      awsError: "ThrottlingException",
      status: 400,
    }),
  HubSlotsBusyError: () => new ERROR_CLASSES.HubSlotsBusyError(15, { cause }),
  HubSessionsExhaustedError: () => new ERROR_CLASSES.HubSessionsExhaustedError("sessions", { cause }),
  ChecksumMismatchError: () =>
    new ERROR_CLASSES.ChecksumMismatchError("g1", "a".repeat(32), "b".repeat(32), { cause }),
  ArchiveInvalidError: () =>
    new ERROR_CLASSES.ArchiveInvalidError(
      "g1",
      { check: "crc", entry: "X.SAFE/a", offset: 1, detail: "d" },
      { cause },
    ),
  GranuleGoneError: () => new ERROR_CLASSES.GranuleGoneError("g1", 410, { cause }),
  HubAuthError: () => new ERROR_CLASSES.HubAuthError("401", { cause, status: 401 }),
  InvalidHubDataError: () => new ERROR_CLASSES.InvalidHubDataError("bad", { cause }),
  InvalidInputError: () => new ERROR_CLASSES.InvalidInputError("bad", { cause, field: "day" }),
  GranuleNotFoundError: () => new ERROR_CLASSES.GranuleNotFoundError("g1", { cause }),
  LeaseLostError: () => new ERROR_CLASSES.LeaseLostError("g1", "owner", { cause }),
  ConfigError: () => new ERROR_CLASSES.ConfigError([{ key: "HUB_URL", message: "missing" }], { cause }),
  HubFramingError: () => new ERROR_CLASSES.HubFramingError("g1", "short body", { cause }),
  UploadOutcomeUnknownError: () => new ERROR_CLASSES.UploadOutcomeUnknownError("g1", "k", "u", { cause }),
  ManifestIncompleteError: () =>
    new ERROR_CLASSES.ManifestIncompleteError("2026-01-01", { recorded: 2, indexed: 1 }, { cause }),
};

const NAMES = Object.keys(ERROR_CLASSES) as DownloaderErrorName[];
const kindOf = (name: string): RetryKind | undefined =>
  (ERROR_CLASSES as Record<string, { retry: RetryKind }>)[name]?.retry;

describe("the error classes", () => {
  it.each(NAMES)(
    "%s sets its own name, chains its cause and derives retryable from its retry kind",
    (name) => {
      const error = INSTANCES[name]();

      expect(error).toBeInstanceOf(DownloaderError);
      expect(error).toBeInstanceOf(ERROR_CLASSES[name]);
      expect(error.name).toBe(name);
      expect(error.cause).toBe(cause);
      expect(RETRY_KINDS).toHaveProperty(ERROR_CLASSES[name].retry);
      expect(error.retryable).toBe(RETRY_KINDS[ERROR_CLASSES[name].retry].transient);
      expect(isRetryable(error)).toBe(error.retryable);
    },
  );

  it("lists every exported error class, so none escapes the derived lists", () => {
    const exported = Object.entries(errors)
      .filter(([, value]) => typeof value === "function" && value.prototype instanceof DownloaderError)
      .map(([name]) => name);
    expect(exported.sort()).toEqual([...NAMES].sort());
  });
});

describe("the lists derived from the classes", () => {
  it("are the names of the classes declaring each retry kind", () => {
    expect(RETRYABLE_ERROR_NAMES).toEqual(NAMES.filter((name) => kindOf(name) === "backoff"));
    expect(SLOT_WAIT_ERROR_NAMES).toEqual(NAMES.filter((name) => kindOf(name) === "slotWait"));
    expect(SESSIONS_EXHAUSTED_ERROR_NAMES).toEqual(
      NAMES.filter((name) => kindOf(name) === "sessionsExhausted"),
    );
    expect(MISMATCH_ERROR_NAMES).toEqual(NAMES.filter((name) => kindOf(name) === "mismatch"));
    expect(TERMINAL_ERROR_NAMES).toEqual(NAMES.filter((name) => RETRY_KINDS[kindOf(name)!].terminal));
  });

  it("hold the contract the state machine and the granule table were built on", () => {
    expect([...RETRYABLE_ERROR_NAMES].sort()).toEqual(
      [
        "AwsUnavailableError",
        "ChecksumNotPublishedError",
        "GranuleOfflineError",
        "HubAnswerTooLargeError",
        "HubThrottledError",
        "HubUnavailableError",
        "TransferInterruptedError",
        "TransferTooSlowError",
        "ConditionalWriteConflictError",
      ].sort(),
    );
    expect(SLOT_WAIT_ERROR_NAMES).toEqual(["HubSlotsBusyError"]);
    expect(SESSIONS_EXHAUSTED_ERROR_NAMES).toEqual(["HubSessionsExhaustedError"]);
    expect(MISMATCH_ERROR_NAMES).toEqual(["ChecksumMismatchError", "ArchiveInvalidError"]);
    expect([...TERMINAL_ERROR_NAMES].sort()).toEqual(
      [
        "ArchiveInvalidError",
        "ChecksumMismatchError",
        "ConfigError",
        "GranuleGoneError",
        "GranuleNotFoundError",
        "HubAuthError",
        "HubFramingError",
        "InvalidHubDataError",
        "InvalidInputError",
        "LeaseLostError",
        "UploadOutcomeUnknownError",
      ].sort(),
    );
    // The retried and the terminal never overlap but for the mismatch, terminal once its Retry ran out.
    expect(TERMINAL_ERROR_NAMES.filter((name) => isRetryable(INSTANCES[name]()))).toEqual([]);
  });

  it("leave unretried only the errors no Retry waits out and a later run still tries", () => {
    expect(errorNamesOf("unretried")).toEqual(["ManifestIncompleteError"]);
  });
});
