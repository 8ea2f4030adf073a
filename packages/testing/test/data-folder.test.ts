import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { requireEmptyFolder, tempDataDir, useCleanups } from "../src/data-folder";

const cleanups = useCleanups();

describe("requireEmptyFolder", () => {
  it("accepts a folder that does not exist yet, or is empty", async () => {
    const dir = await tempDataDir(cleanups);

    await expect(requireEmptyFolder(dir)).resolves.toBeUndefined();
    await expect(requireEmptyFolder(join(dir, "new"))).resolves.toBeUndefined();
  });

  it("refuses a folder holding an earlier run's stores, naming what it holds", async () => {
    // A reused chaos folder kept the first run's DOWNLOADED granules and objects, checked against the second run's hub.
    const dir = await tempDataDir(cleanups);
    await mkdir(join(dir, "dynamodb"));
    await writeFile(join(dir, "synthesized-workflow.json"), "{}");

    await expect(requireEmptyFolder(dir)).rejects.toThrow(
      new RangeError(
        `${dir} is not empty (dynamodb, synthesized-workflow.json): an earlier run's table and objects would be checked against this run; give a new or empty folder`,
      ),
    );
  });
});
