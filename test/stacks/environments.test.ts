import { CONFIG_KEYS } from "@hls-s2/core";
import { beforeAll, describe, expect, it } from "vitest";
import { type SynthesizedApp, synthesizeApp } from "../../stacks/synth";
import { resourcesOfType } from "./helpers";

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
});
