import { afterEach, describe, expect, it } from "vitest";
import { handler as downloadGranule } from "../src/download";
import { handler as fetchLinks } from "../src/fetch-page";
import { handler as generateQueries } from "../src/generate-queries";
import { configureRuntime, resetRuntime } from "../src/lib/runtime";
import { handler as summarize } from "../src/summarize";
import { handler as writeManifest } from "../src/write-manifest";
import { lambdaEnv } from "./helpers/local";

afterEach(() => resetRuntime());

const CASES: [string, (event: unknown) => Promise<unknown>, unknown, string][] = [
  ["generate-queries", generateQueries, { from: "2024-1-1" }, "from"],
  ["generate-queries", generateQueries, { form: "2024-01-01" }, "form"],
  ["fetch-page", fetchLinks, { day: "2024-01-01", platform: "L8" }, "platform"],
  ["fetch-page", fetchLinks, { platform: "S2A" }, "day"],
  // Days are checked on the calendar here, once: core trusts them.
  ["fetch-page", fetchLinks, { day: "2024-02-30", platform: "S2A" }, "day"],
  ["summarize", summarize, { from: "2023-02-29", to: "2023-03-01" }, "from"],
  ["write-manifest", writeManifest, { from: "2024-01-01", to: "2024-01-02" }, "executionName"],
  ["download", downloadGranule, { granuleId: "", owner: "arn:exec" }, "granuleId"],
  ["download", downloadGranule, "not an object", "event"],
  ["summarize", summarize, { from: "2024-01-01" }, "to"],
];

describe("handler input", () => {
  it.each(CASES)(
    "%s rejects a malformed event with InvalidInputError naming the field",
    async (_name, handler, event, field) => {
      configureRuntime({ env: lambdaEnv() });
      const error = await handler(event).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toMatchObject({ name: "InvalidInputError", field });
    },
  );
});
