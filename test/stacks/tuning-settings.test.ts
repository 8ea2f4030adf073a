import { parseConfig } from "@hls-s2/core/config";
import { ConfigError } from "@hls-s2/core/errors";
import { beforeAll, describe, expect, it } from "vitest";
import { resolveStageSettings } from "../../stacks/settings";
import { WORKFLOW_TASKS } from "../../stacks/Workflow";
import { resourcesOfType } from "./helpers";
import { flattenIntrinsics, type SynthesizedApp, synthesizeApp } from "./synthesized";

/** The environment a function of the Workflow stack gets, intrinsics flattened, as core parses it. */
function configOf(app: SynthesizedApp, prefix: string) {
  const template = app.templates.Workflow!;
  const [, fn] = resourcesOfType(template, "AWS::Lambda::Function").find(([id]) => id.startsWith(prefix))!;
  const variables = (fn.Properties!.Environment as { Variables: Record<string, unknown> }).Variables;
  const others = Object.values(app.templates).filter((other) => other !== undefined);
  const env = flattenIntrinsics(variables, template, app.region, others) as Record<string, string>;
  return { env, config: parseConfig(env) };
}

describe("tuning settings (the knobs docs/operating.md names)", () => {
  let tuned: SynthesizedApp;

  beforeAll(async () => {
    const settings = resolveStageSettings("dev", {
      PART_SIZE_MIB: "32",
      PART_QUEUE_SIZE: "3",
      SEARCH_PAGE_SIZE: "50",
      LEASE_SECONDS: "1200",
      MAX_ATTEMPTS: "3",
      MAX_ACQUISITION_AGE_DAYS: "10",
      ZIP_CHECK: "false",
      VERIFY_WITHOUT_CHECKSUM: "true",
    });
    tuned = await synthesizeApp({ stage: "dev", settings });
  });

  it("defaults to core's values", () => {
    expect(resolveStageSettings("dev")).toMatchObject({
      partSizeMib: 64,
      partQueueSize: 1,
      leaseSeconds: 900,
      maxAttempts: 5,
    });
    expect(resolveStageSettings("dev")).not.toHaveProperty("searchPageSize");
  });

  it("reaches the Download function's part size and queue from PART_SIZE_MIB and PART_QUEUE_SIZE", () => {
    expect(configOf(tuned, "DownloadFunction").config).toMatchObject({ partSizeMib: 32, partQueueSize: 3 });
  });

  it("reaches the Download function's zip check from ZIP_CHECK and VERIFY_WITHOUT_CHECKSUM, on and off by default", () => {
    expect(configOf(tuned, "DownloadFunction").config).toMatchObject({
      zipCheck: false,
      verifyWithoutChecksum: true,
    });
    expect(resolveStageSettings("dev")).toMatchObject({ zipCheck: true, verifyWithoutChecksum: false });
  });

  it("reaches the FetchPage function's page size from SEARCH_PAGE_SIZE", () => {
    expect(configOf(tuned, "FetchPageFunction").config.searchPageSize).toBe(50);
  });

  it("reaches the FetchPage function's age filter from MAX_ACQUISITION_AGE_DAYS, core's default when unset", () => {
    expect(configOf(tuned, "FetchPageFunction").config.maxAcquisitionAgeDays).toBe(10);
    expect(resolveStageSettings("dev")).toMatchObject({ maxAcquisitionAgeDays: 30 });
  });

  it("gives every workflow function the store's lease and attempts", () => {
    for (const task of Object.keys(WORKFLOW_TASKS)) {
      expect(configOf(tuned, `${task}Function`).config).toMatchObject({ leaseSeconds: 1200, maxAttempts: 3 });
    }
  });

  it("refuses parts that would not fit the Download function, and DHuS pages over 100, at synth", () => {
    const keysOf = (env: Record<string, string>) => {
      try {
        resolveStageSettings("dev", env);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).issues.map((issue) => issue.key);
      }
      throw new Error("resolveStageSettings accepted the environment");
    };
    expect(keysOf({ PART_SIZE_MIB: "512" })).toEqual(["PART_SIZE_MIB"]);
    expect(keysOf({ HUB_KIND: "dhus", SEARCH_PAGE_SIZE: "500" })).toEqual(["SEARCH_PAGE_SIZE"]);
    expect(keysOf({ PART_SIZE_MIB: "4" })).toEqual(["PART_SIZE_MIB"]);
  });

  it("checks the parts against the Download function's 512 MB: half of it for part size × (queue + 1)", () => {
    // 64 MiB × 2 = 128 MiB (the defaults) and 64 MiB × 4 = 256 MiB fit; 96 MiB × 3 = 288 MiB does not.
    expect(() => resolveStageSettings("dev", { PART_QUEUE_SIZE: "3" })).not.toThrow();
    expect(() => resolveStageSettings("dev", { PART_SIZE_MIB: "96", PART_QUEUE_SIZE: "2" })).toThrow(
      ConfigError,
    );
  });
});
