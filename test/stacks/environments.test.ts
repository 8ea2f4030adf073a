import { CONFIG_KEYS, FUNCTION_CONFIG, FUNCTION_NAMES, type FunctionName } from "@hls-s2/core/config";
import { beforeAll, describe, expect, it } from "vitest";
import { resourcesOfType } from "./helpers";
import { type SynthesizedApp, synthesizeApp } from "./synthesized";

/** The environment variable names of each Workflow function, by task. */
function keysByTask(app: SynthesizedApp): Record<string, string[]> {
  return Object.fromEntries(
    resourcesOfType(app.templates.Workflow, "AWS::Lambda::Function")
      .filter(([id]) => !id.startsWith("CustomResourceHandler"))
      .map(([id, resource]) => [
        id.replace(/Function[0-9A-F]{8}$/, ""),
        Object.keys(
          (resource.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
            ?.Variables ?? {},
        ),
      ]),
  );
}

/** The config keys among a function's variables: not its FUNCTION_NAME, nor Powertools', Node's or SST's. */
function configKeys(variables: Record<string, unknown> | undefined): string[] {
  const keys: readonly string[] = CONFIG_KEYS;
  return Object.keys(variables ?? {}).filter((key) => keys.includes(key) && key !== "FUNCTION_NAME");
}

/** The environment variables of each of the downloader's functions (Workflow, Push and Schedule stacks), by name. */
function variablesByFunction(app: SynthesizedApp): Partial<Record<FunctionName, Record<string, unknown>>> {
  const found: Partial<Record<FunctionName, Record<string, unknown>>> = {};
  for (const template of [app.templates.Workflow, app.templates.Push, app.templates.Schedule]) {
    for (const [id, resource] of resourcesOfType(template, "AWS::Lambda::Function")) {
      const name = FUNCTION_NAMES.find((candidate) => id.startsWith(`${candidate}Function`));
      if (name === undefined) continue;
      found[name] =
        (resource.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
          ?.Variables ?? {};
    }
  }
  return found;
}

describe("each function's environment", () => {
  let intHub: SynthesizedApp;

  beforeAll(async () => {
    intHub = await synthesizeApp({
      stage: "test",
      settings: {
        hubKind: "dhus",
        hubUrl: "https://hub.example.test",
        downloadHubUrl: "https://dl.example.test",
      },
    });
  });

  it("gives the download hub's secret id to Download only, the function whose role may read it", () => {
    const keys = keysByTask(intHub);
    expect(keys.Download).toContain("DOWNLOAD_HUB_SECRET_ID");
    for (const task of ["GenerateQueries", "FetchPage", "WriteManifest", "Summarize"]) {
      expect(keys[task]).not.toContain("DOWNLOAD_HUB_SECRET_ID");
    }
  });

  it("gives the hub's hosts to the functions that build a hub, and the look-back to GenerateQueries", () => {
    const keys = keysByTask(intHub);
    for (const task of ["FetchPage", "Download"]) expect(keys[task]).toContain("DOWNLOAD_HUB_URL");
    for (const task of ["GenerateQueries", "WriteManifest", "Summarize"]) {
      expect(keys[task]).not.toContain("DOWNLOAD_HUB_URL");
    }
    expect(keys.GenerateQueries).toContain("LOOKBACK_DAYS");
    expect(keys.Download).not.toContain("LOOKBACK_DAYS");
    expect(keys.Download).toContain("OBJECT_PREFIX");
    expect(keys.FetchPage).not.toContain("OBJECT_PREFIX");
  });

  it("names only keys core's config reads, besides Powertools', Node's and SST's own", () => {
    const known = new Set<string>([
      ...CONFIG_KEYS,
      "POWERTOOLS_SERVICE_NAME",
      "POWERTOOLS_METRICS_NAMESPACE",
      "NODE_OPTIONS",
      // Added by SST's Function construct to every function.
      "AWS_NODEJS_CONNECTION_REUSE_ENABLED",
      "SST_APP",
      "SST_STAGE",
      "SST_SSM_PREFIX",
    ]);
    for (const keys of Object.values(keysByTask(intHub))) {
      expect(keys.filter((key) => !known.has(key))).toEqual([]);
    }
  });

  it("names its function and gives it exactly the keys core's FUNCTION_CONFIG lists, when the stage sets them", async () => {
    const everything = await synthesizeApp({
      stage: "test",
      settings: {
        hubKind: "cdse",
        hubUrl: "https://catalogue.example.test/odata/v1",
        downloadHubUrl: "https://zipper.example.test/odata/v1",
        cdseTokenUrl: "https://identity.example.test/token",
        searchPageSize: 500,
        tileAllowListFile: "config/tiles.example.txt",
        uploadBucketName: "hls-landing",
        uploadBucketRegion: "us-west-2",
        pushEnabled: true,
      },
    });
    const variables = variablesByFunction(everything);
    expect(Object.keys(variables).sort()).toEqual([...FUNCTION_NAMES].sort());
    for (const name of FUNCTION_NAMES) {
      expect({ name, keys: configKeys(variables[name]).sort() }).toEqual({
        name,
        // The download hub's own account exists on a DHuS stage only (pinned by the first test); an
        // imported bucket is not listable (the stage's own is: pinned in permissions.test.ts).
        keys: FUNCTION_CONFIG[name].keys
          .filter((key) => key !== "DOWNLOAD_HUB_SECRET_ID" && key !== "UPLOAD_BUCKET_LISTABLE")
          .sort(),
      });
      expect(variables[name]?.FUNCTION_NAME).toBe(name);
    }
  });

  it("gives each function every key it requires and none it is not listed for, whatever the stage leaves unset", () => {
    for (const [name, variables] of Object.entries(variablesByFunction(intHub)) as [
      FunctionName,
      Record<string, unknown>,
    ][]) {
      const keys = configKeys(variables);
      const listed: readonly string[] = FUNCTION_CONFIG[name].keys;
      expect({ name, unlisted: keys.filter((key) => !listed.includes(key)) }).toEqual({ name, unlisted: [] });
      const required: readonly string[] = FUNCTION_CONFIG[name].requires;
      expect({ name, missing: required.filter((key) => !keys.includes(key)) }).toEqual({ name, missing: [] });
    }
  });

  it("gives the push functions no bucket and no hub: they read neither", async () => {
    const push = await synthesizeApp({ stage: "test", settings: { hubKind: "cdse", pushEnabled: true } });
    const variables = variablesByFunction(push);
    for (const name of ["ReceivePush", "StartPushedDownloads"] as const) {
      const keys = Object.keys(variables[name] ?? {});
      expect(keys).toContain("TABLE_NAME");
      for (const key of ["BUCKET_NAME", "WORK_BUCKET_NAME", "HUB_URL", "HUB_SECRET_ID"]) {
        expect(keys).not.toContain(key);
      }
    }
  });
});
