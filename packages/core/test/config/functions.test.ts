import { describe, expect, it } from "vitest";
import { FUNCTION_CONFIG, FUNCTION_NAMES, WORKFLOW_REQUIRED_KEYS } from "../../src/config/functions";
import { CONFIG_KEYS, parseConfig, requireConfig } from "../../src/config/runtime";
import { ConfigError } from "../../src/domain/errors";

function issuesOf(parse: () => unknown) {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error("the configuration was accepted");
}

const PUSH_ENV = { FUNCTION_NAME: "ReceivePush", HUB_KIND: "cdse", TABLE_NAME: "granules" };

describe("FUNCTION_CONFIG", () => {
  it("lists every function once, with config keys only, each requiring only keys it is given", () => {
    expect(Object.keys(FUNCTION_CONFIG)).toEqual([...FUNCTION_NAMES]);
    for (const { keys, requires } of Object.values(FUNCTION_CONFIG)) {
      const given: readonly string[] = keys;
      expect(keys.filter((key) => !CONFIG_KEYS.includes(key))).toEqual([]);
      expect(new Set(keys).size).toBe(keys.length);
      expect(requires.filter((key) => !given.includes(key))).toEqual([]);
    }
  });

  it("gives the push functions no bucket and no hub URL", () => {
    for (const name of ["ReceivePush", "StartPushedDownloads"] as const) {
      const keys: readonly string[] = FUNCTION_CONFIG[name].keys;
      for (const key of ["BUCKET_NAME", "WORK_BUCKET_NAME", "HUB_URL"]) expect(keys).not.toContain(key);
    }
  });
});

describe("parseConfig of a named function", () => {
  it("names a key the function requires when it is missing", () => {
    expect(issuesOf(() => parseConfig(PUSH_ENV))).toEqual([
      { key: "PUSH_SECRET_ID", message: "is required" },
    ]);
    expect(
      issuesOf(() => parseConfig({ FUNCTION_NAME: "StartPushedDownloads", HUB_KIND: "cdse" })).map(
        (issue) => issue.key,
      ),
    ).toEqual(["TABLE_NAME", "STATE_MACHINE_ARN"]);
  });

  it("accepts the push function's environment without the buckets and hub it does not read", () => {
    const config = parseConfig({ ...PUSH_ENV, PUSH_SECRET_ID: "push-secret" });
    expect(config).toMatchObject({ functionName: "ReceivePush", tableName: "granules" });
    expect(config).not.toHaveProperty("bucketName");
    expect(config).not.toHaveProperty("hubUrl");
  });

  it("requires what the whole workflow needs when no function is named, and `require` when given", () => {
    expect(issuesOf(() => parseConfig({ HUB_KIND: "dhus" })).map((issue) => issue.key)).toEqual([
      ...WORKFLOW_REQUIRED_KEYS,
    ]);
    expect(parseConfig({ HUB_KIND: "dhus", TABLE_NAME: "t" }, { require: ["TABLE_NAME"] }).tableName).toBe(
      "t",
    );
  });

  it("refuses a function name it does not know", () => {
    const issues = issuesOf(() => parseConfig({ ...PUSH_ENV, FUNCTION_NAME: "Sweep" }));
    expect(issues).toContainEqual({ key: "FUNCTION_NAME", message: expect.stringMatching(/ReceivePush/) });
  });
});

describe("requireConfig", () => {
  it("names each key a reader needs that the configuration lacks", () => {
    const config = parseConfig({ ...PUSH_ENV, PUSH_SECRET_ID: "push-secret" });
    expect(requireConfig(config, ["TABLE_NAME"]).tableName).toBe("granules");
    expect(issuesOf(() => requireConfig(config, ["TABLE_NAME", "BUCKET_NAME", "HUB_URL"]))).toEqual([
      { key: "BUCKET_NAME", message: "is required" },
      { key: "HUB_URL", message: "is required" },
    ]);
  });
});
