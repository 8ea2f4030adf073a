/**
 * Benchmark: the cost of the state machine itself. 2,000 small granules (16 KiB) go through the
 * real state machine in local mode (`runLocal`: the synthesized definition on aws-local-stepfunctions,
 * every Task bound to its handler), and through the same handlers called in a plain loop with the
 * same concurrency (15), each against fresh embedded stores and mock hub. Overhead per granule =
 * (state machine time − loop time) / granules, for the DownloadGranules phase (Distributed Map vs
 * 15 workers over the manifest) and for the whole run.
 *
 *   npx tsx bench/orchestration.ts [--granules 2000]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { createDocumentClient } from "@hls-s2/core/store";
import {
  adaptDefinition,
  buildCatalogue,
  DEFAULT_CONCURRENCY,
  LOCAL_STATE_MACHINE_ARN,
  lambdaEnvironment,
  loadSynthesizedWorkflow,
  MOCK_CREDENTIALS,
  runLocal,
  runMapRun,
  startEmbeddedStores,
} from "@hls-s2/local";
import { MOCK_PLATFORMS, startMockHub } from "@hls-s2/mock-hub";
import { StateMachine } from "aws-local-stepfunctions";
import type { Row } from "./lib";

const DAY = "2026-11-24";
const SIZE_BYTES = 16 * 1024;
const SEED = "bench-orchestration";
const SYNTH_CACHE_FILE = "synthesized-workflow.json";
export const ORCHESTRATION_GOAL_MS = 10;

type Handler = (event: unknown, context?: { getRemainingTimeInMillis(): number }) => Promise<unknown>;

export interface OrchestrationResult {
  granules: number;
  concurrency: number;
  stateMachine: { wallSeconds: number; downloadPhaseSeconds: number; downloaded: number };
  loop: { wallSeconds: number; downloadPhaseSeconds: number; downloaded: number };
  /** (state machine − loop) / granules, in ms. */
  overheadMsPerGranule: { downloadPhase: number; wholeRun: number };
  /** The engine alone: the same definition with every Task a stub, against a 15-worker loop of the stubs. */
  engineOnly: { stateMachineSeconds: number; loopSeconds: number; overheadMsPerGranule: number };
}

/**
 * The synthesized definition run with stub Tasks (no I/O): what the engine itself costs per granule,
 * free of the embedded servers' noise, which on a shared machine is larger than the overhead sought.
 */
async function timeEngineOnly(granules: number, concurrency: number, cacheDir: string) {
  const workflow = await loadSynthesizedWorkflow({ cacheFile: join(cacheDir, SYNTH_CACHE_FILE) });
  const local = adaptDefinition(workflow.definition, { concurrency });
  const items = Array.from({ length: granules }, (_, i) => ({ granuleId: `g-${i}`, name: `granule-${i}` }));
  const download = async (input: unknown) => ({
    granuleId: (input as { granuleId?: string }).granuleId,
    outcome: "downloaded",
  });
  const stubs: Record<string, (input: unknown) => Promise<unknown>> = {
    GenerateQueries: async () => ({
      from: DAY,
      to: DAY,
      queries: [],
      fetchLinks: false,
      downloadsEnabled: true,
    }),
    FetchPage: async () => ({ finished: true }),
    WriteManifest: async () => ({ bucket: "work", key: "manifest.json", count: granules }),
    Download: download,
    Summarize: async () => ({}),
  };
  // The Distributed Map runs on the local Map Run, as in runLocal; its S3 serves the items from memory.
  const s3 = {
    send: async (command: unknown) =>
      command instanceof GetObjectCommand
        ? { Body: { transformToString: async () => JSON.stringify(items) } }
        : {},
  } as unknown as S3Client;
  for (const map of local.distributedMaps) {
    stubs[map.stateName] = (input) =>
      runMapRun({
        map,
        input,
        execution: { arn: "arn:aws:states:us-east-1:123456789012:execution:local:bench", name: "bench" },
        stateMachineArn: LOCAL_STATE_MACHINE_ARN,
        s3,
        child: { taskResourceLocalHandlers: stubs as never },
      });
  }
  const machine = new StateMachine(local.definition as never, { validationOptions: { checkArn: false } });
  const began = performance.now();
  const execution = machine.run(
    {},
    {
      overrides: { taskResourceLocalHandlers: stubs as never },
      context: {
        Execution: { Id: "arn:aws:states:us-east-1:123456789012:execution:local:bench", Name: "bench" },
      },
    },
  );
  await execution.result;
  const stateMachineSeconds = (performance.now() - began) / 1000;
  const loopBegan = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const item = items[next++]!;
        JSON.parse(JSON.stringify(await download({ granuleId: item.granuleId, owner: "bench" })));
      }
    }),
  );
  const loopSeconds = (performance.now() - loopBegan) / 1000;
  return {
    stateMachineSeconds,
    loopSeconds,
    overheadMsPerGranule: ((stateMachineSeconds - loopSeconds) * 1000) / granules,
  };
}

async function timeStateMachine(granules: number, concurrency: number, cacheDir: string) {
  const dataDir = await mkdtemp(join(tmpdir(), "hls-s2-bench-sm-"));
  try {
    // Reuse one synthesis for both runs: the runner reads its cache from the data folder.
    await import("node:fs/promises").then((fs) =>
      fs.copyFile(join(cacheDir, SYNTH_CACHE_FILE), join(dataDir, SYNTH_CACHE_FILE)),
    );
    const marks = new Map<string, number>();
    const began = performance.now();
    const summary = await runLocal({
      dataDir,
      from: DAY,
      to: DAY,
      granulesPerDay: granules,
      productSize: SIZE_BYTES,
      seed: SEED,
      concurrency,
      // Both sides must orchestrate every catalogue product; the tile filter is not what is timed.
      allTiles: true,
      onProgress: (snapshot) => {
        if (!marks.has(snapshot.step)) marks.set(snapshot.step, performance.now());
      },
    });
    const wallSeconds = (performance.now() - began) / 1000;
    const start = marks.get("DownloadGranules");
    const end = marks.get("Summarize");
    if (start === undefined || end === undefined) throw new Error(`missing step marks: ${[...marks.keys()]}`);
    return {
      wallSeconds,
      downloadPhaseSeconds: (end - start) / 1000,
      downloaded: summary.run.downloaded,
    };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function timeLoop(granules: number, concurrency: number, cacheDir: string) {
  const workflow = await loadSynthesizedWorkflow({ cacheFile: join(cacheDir, SYNTH_CACHE_FILE) });
  const began = performance.now();
  const catalogue = buildCatalogue({ seed: SEED, granulesPerDay: granules, productSize: SIZE_BYTES }, [DAY]);
  const hub = await startMockHub({ catalogue, credentials: MOCK_CREDENTIALS });
  const stores = await startEmbeddedStores();
  process.env["POWERTOOLS_LOG_LEVEL"] ??= "SILENT";
  process.env["POWERTOOLS_METRICS_DISABLED"] ??= "true";
  const runtime = await import("@hls-s2/functions/lib/runtime");
  try {
    // The environment the runner gives the handlers, against these servers.
    const env = lambdaEnvironment(workflow, stores, { kind: "dhus", url: hub.url }, { allTiles: true });
    runtime.configureRuntime({
      env,
      clients: {
        dynamo: createDocumentClient(stores.dynamo),
        s3: stores.s3,
      },
      credentials: { hub: MOCK_CREDENTIALS, download: MOCK_CREDENTIALS },
    });
    const handlers = Object.fromEntries(
      await Promise.all(
        Object.entries(workflow.tasks).map(async ([name, file]) => {
          const module = (await import(`@hls-s2/functions/${file}`)) as { handler: Handler };
          return [name, module.handler] as const;
        }),
      ),
    ) as Record<string, Handler>;
    const invoke = async (name: string, payload: unknown) => {
      const deadline = Date.now() + ((workflow.timeouts as Record<string, number>)[name] ?? 900) * 1000;
      const handler = handlers[name];
      if (handler === undefined) throw new Error(`no handler for ${name}`);
      const result = await handler(payload, { getRemainingTimeInMillis: () => deadline - Date.now() });
      return JSON.parse(JSON.stringify(result ?? null)) as Record<string, unknown>;
    };

    const executionName = `bench-loop-${Date.now()}`;
    const owner = `arn:aws:states:us-east-1:123456789012:execution:local:${executionName}`;
    const plan = (await invoke("GenerateQueries", {
      from: DAY,
      to: DAY,
      platforms: [...MOCK_PLATFORMS],
    })) as {
      from: string;
      to: string;
      queries: Record<string, unknown>[];
    };
    // FetchLinks: three queries at a time, each paged until finished, as the inline Map does.
    const queries = [...plan.queries];
    await Promise.all(
      Array.from({ length: 3 }, async () => {
        for (let query = queries.shift(); query !== undefined; query = queries.shift()) {
          let state: Record<string, unknown> = query;
          do state = await invoke("FetchPage", state);
          while (state["finished"] !== true);
        }
      }),
    );
    const manifest = await invoke("WriteManifest", { from: plan.from, to: plan.to, executionName });
    const object = await stores.readObject(String(manifest["key"]), String(manifest["bucket"]));
    const items = JSON.parse(object!.toString("utf8")) as { granuleId: string }[];

    const phaseBegan = performance.now();
    let downloaded = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < items.length) {
          const item = items[next++]!;
          try {
            const result = await invoke("Download", { granuleId: item.granuleId, owner });
            if (result["outcome"] === "downloaded") downloaded++;
          } catch {
            // The Download handler recorded the failure itself, as in the state machine's child.
          }
        }
      }),
    );
    const downloadPhaseSeconds = (performance.now() - phaseBegan) / 1000;
    await invoke("Summarize", { from: plan.from, to: plan.to });
    return { wallSeconds: (performance.now() - began) / 1000, downloadPhaseSeconds, downloaded };
  } finally {
    runtime.resetRuntime();
    await stores.close();
    await hub.close();
  }
}

/** Runs the loop, then the state machine, on the same catalogue; each on fresh stores and hub. */
export async function benchOrchestration(
  options: { granules?: number; concurrency?: number; log?: (line: string) => void } = {},
): Promise<OrchestrationResult> {
  const granules = options.granules ?? 2000;
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const log = options.log ?? (() => undefined);
  const cacheDir = await mkdtemp(join(tmpdir(), "hls-s2-bench-synth-"));
  try {
    // Synthesis (or its cache) is paid here, outside both timings.
    await loadSynthesizedWorkflow({ cacheFile: join(cacheDir, SYNTH_CACHE_FILE) });
    const loop = await timeLoop(granules, concurrency, cacheDir);
    log(
      `orchestration loop: ${loop.wallSeconds.toFixed(2)} s, download phase ${loop.downloadPhaseSeconds.toFixed(2)} s`,
    );
    const stateMachine = await timeStateMachine(granules, concurrency, cacheDir);
    log(
      `orchestration state machine: ${stateMachine.wallSeconds.toFixed(2)} s, download phase ${stateMachine.downloadPhaseSeconds.toFixed(2)} s`,
    );
    const engineOnly = await timeEngineOnly(granules, concurrency, cacheDir);
    log(
      `orchestration engine only: ${engineOnly.stateMachineSeconds.toFixed(2)} s vs loop ${engineOnly.loopSeconds.toFixed(3)} s`,
    );
    if (loop.downloaded !== granules || stateMachine.downloaded !== granules) {
      throw new Error(
        `downloaded ${loop.downloaded} (loop) and ${stateMachine.downloaded} (state machine) of ${granules}`,
      );
    }
    return {
      granules,
      concurrency,
      stateMachine,
      loop,
      overheadMsPerGranule: {
        downloadPhase: ((stateMachine.downloadPhaseSeconds - loop.downloadPhaseSeconds) * 1000) / granules,
        wholeRun: ((stateMachine.wallSeconds - loop.wallSeconds) * 1000) / granules,
      },
      engineOnly,
    };
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
}

export function orchestrationRows(result: OrchestrationResult): Row[] {
  const what = `${result.granules} × 16 KiB, concurrency ${result.concurrency}`;
  const { stateMachine: sm, loop } = result;
  return [
    {
      benchmark: "orchestration",
      case: what,
      metric: "download phase SM / loop",
      value: `${sm.downloadPhaseSeconds.toFixed(2)} s / ${loop.downloadPhaseSeconds.toFixed(2)} s`,
    },
    {
      benchmark: "orchestration",
      case: what,
      metric: "overhead per granule",
      value: `${result.overheadMsPerGranule.downloadPhase.toFixed(2)} ms`,
      goal: `≤ ${ORCHESTRATION_GOAL_MS} ms`,
      met: result.overheadMsPerGranule.downloadPhase <= ORCHESTRATION_GOAL_MS,
    },
    {
      benchmark: "orchestration",
      case: `${result.granules} stub Tasks, concurrency ${result.concurrency}`,
      metric: "engine alone per granule",
      value: `${result.engineOnly.overheadMsPerGranule.toFixed(2)} ms (${result.engineOnly.stateMachineSeconds.toFixed(2)} s vs loop ${result.engineOnly.loopSeconds.toFixed(3)} s)`,
      goal: `≤ ${ORCHESTRATION_GOAL_MS} ms`,
      met: result.engineOnly.overheadMsPerGranule <= ORCHESTRATION_GOAL_MS,
    },
    {
      benchmark: "orchestration",
      case: what,
      metric: "whole run SM / loop",
      value: `${sm.wallSeconds.toFixed(2)} s / ${loop.wallSeconds.toFixed(2)} s (${result.overheadMsPerGranule.wholeRun.toFixed(2)} ms per granule)`,
    },
  ];
}

const invokedDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  const { values } = parseArgs({ options: { granules: { type: "string", default: "2000" } } });
  const result = await benchOrchestration({ granules: Number(values.granules), log: console.log });
  console.log(JSON.stringify(result, null, 2));
}
