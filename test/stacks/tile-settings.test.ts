import path from "node:path";
import { ConfigError } from "@hls-s2/core/errors";
import { afterEach, describe, expect, it } from "vitest";
import { HLS_TILE_ALLOW_LIST_FILE, projectRoot, resolveStageSettings } from "../../stacks/settings";
import { REPO_ROOT } from "../../stacks/synth";

const savedCwd = process.cwd();
afterEach(() => {
  process.chdir(savedCwd);
});

describe("TILE_ALLOW_LIST_FILE", () => {
  it("defaults prod to HLS's tile grid and leaves other stages unfiltered", () => {
    expect(HLS_TILE_ALLOW_LIST_FILE).toBe("config/hls-tiles.txt");
    expect(resolveStageSettings("prod").tileAllowListFile).toBe(HLS_TILE_ALLOW_LIST_FILE);
    expect(resolveStageSettings("dev").tileAllowListFile).toBeUndefined();
  });

  it("opts out with all, also of prod's default", () => {
    expect(resolveStageSettings("prod", { TILE_ALLOW_LIST_FILE: "all" }).tileAllowListFile).toBeUndefined();
    expect(resolveStageSettings("prod", { TILE_ALLOW_LIST_FILE: "ALL" }).tileAllowListFile).toBeUndefined();
  });

  it("hands copyFiles a path relative to the project root, however it was given", () => {
    const absolute = path.join(REPO_ROOT, "config/tiles.example.txt");
    expect(resolveStageSettings("dev", { TILE_ALLOW_LIST_FILE: absolute }).tileAllowListFile).toBe(
      path.join("config", "tiles.example.txt"),
    );
    expect(
      resolveStageSettings("dev", { TILE_ALLOW_LIST_FILE: "./config/../config/tiles.example.txt" })
        .tileAllowListFile,
    ).toBe(path.join("config", "tiles.example.txt"));
  });

  it("resolves relative paths against the folder of sst.config.ts, as SST does, from any subfolder", () => {
    process.chdir(path.join(REPO_ROOT, "packages/functions/src"));
    expect(projectRoot()).toBe(REPO_ROOT);
    expect(
      resolveStageSettings("dev", { TILE_ALLOW_LIST_FILE: "config/tiles.example.txt" }).tileAllowListFile,
    ).toBe(path.join("config", "tiles.example.txt"));
  });

  it("names the variable and the root when the file is missing", () => {
    let error: unknown;
    try {
      resolveStageSettings("dev", { TILE_ALLOW_LIST_FILE: "config/no-such-tiles.txt" });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([
      { key: "TILE_ALLOW_LIST_FILE", message: expect.stringContaining(REPO_ROOT) },
    ]);
  });
});
