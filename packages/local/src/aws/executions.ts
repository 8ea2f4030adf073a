import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Platform } from "@hls-s2/core/domain";
import { StatesError } from "../errors";
import type { FailedState, MapRunRecord } from "./map-run";

/**
 * What Step Functions keeps of an execution and a local redrive needs: its status and input, the
 * top-level state it failed in with that state's input, and each Map Run with its children. One JSON
 * file per execution under `<data folder>/executions/`.
 */
export interface LocalExecutionRecord {
  name: string;
  executionArn: string;
  status: "RUNNING" | "SUCCEEDED" | "FAILED";
  input: unknown;
  /** The run's window and switches, so a redrive serves the same catalogue and table. */
  window: { from: string; to: string; platforms: Platform[]; downloadOnly: boolean; allTiles?: boolean };
  hub: { kind: "dhus" | "cdse"; mock: boolean };
  startDate: string;
  stopDate?: string;
  redriveCount: number;
  redriveDate?: string;
  failedState?: FailedState;
  error?: { name: string; message: string };
  mapRuns: Record<string, MapRunRecord>;
}

const FOLDER = "executions";

function fileOf(dataDir: string, name: string): string {
  return join(dataDir, FOLDER, `${name}.json`);
}

/** Writes an execution's record (write then rename: an interrupted write leaves the previous one). */
export async function saveExecutionRecord(dataDir: string, record: LocalExecutionRecord): Promise<void> {
  await mkdir(join(dataDir, FOLDER), { recursive: true });
  const file = fileOf(dataDir, record.name);
  await writeFile(`${file}.tmp`, JSON.stringify(record));
  await rename(`${file}.tmp`, file);
}

/** Every execution record of a data folder, newest first. */
export async function listExecutionRecords(dataDir: string): Promise<LocalExecutionRecord[]> {
  let names: string[];
  try {
    names = (await readdir(join(dataDir, FOLDER))).filter((name) => name.endsWith(".json"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const records = await Promise.all(
    names.map(
      async (name) => JSON.parse(await readFile(join(dataDir, FOLDER, name), "utf8")) as LocalExecutionRecord,
    ),
  );
  return records.sort((a, b) => b.startDate.localeCompare(a.startDate));
}

/**
 * The execution a redrive continues: the named one, else the newest FAILED one. As RedriveExecution,
 * only an unsuccessful execution can be redriven ("The execution status isn't SUCCEEDED").
 * @throws StatesError ExecutionDoesNotExist when there is no such execution; ExecutionNotRedrivable
 *   when it succeeded or is still running, or no execution failed.
 */
export async function findRedrivableExecution(
  dataDir: string,
  executionName?: string,
): Promise<LocalExecutionRecord> {
  const records = await listExecutionRecords(dataDir);
  if (executionName === undefined) {
    const failed = records.find((record) => record.status === "FAILED");
    if (failed === undefined) {
      throw new StatesError("ExecutionNotRedrivable", `no FAILED execution in ${dataDir} to redrive`);
    }
    return failed;
  }
  const record = records.find((r) => r.name === executionName);
  if (record === undefined) {
    throw new StatesError("ExecutionDoesNotExist", `no execution ${executionName} in ${dataDir}`);
  }
  if (record.status !== "FAILED") {
    throw new StatesError("ExecutionNotRedrivable", `execution ${executionName} is ${record.status}`);
  }
  return record;
}
