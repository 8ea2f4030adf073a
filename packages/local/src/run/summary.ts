import {
  type DayLatency,
  type DayTally,
  daysBetween,
  type FailedQuery,
  type GranuleTally,
  latencyByDay,
  type Platform,
  type WindowSummary,
} from "@hls-s2/core/domain";
import { createDocumentClient, GranuleStore } from "@hls-s2/core/store";
import { summarizeWindow } from "@hls-s2/core/usecases";
import type { MockHub } from "@hls-s2/mock-hub";
import type { DynamoBackend, EmbeddedStores, MapRunRecord } from "../aws";
import type { RunState } from "./execute";
import type { ReleasedLease } from "./leases";
import type { CheckedOptions } from "./options";

export interface LocalRunSummary {
  executionName: string;
  from: string;
  to: string;
  platforms: Platform[];
  dataDir: string;
  hub: { kind: "dhus" | "cdse"; url: string; mock: boolean };
  /** The DynamoDB stand-in that held the table. */
  store: { dynamo: string; backend: DynamoBackend };
  /** The granule table after the run, per day and platform: the whole window, not only this run. */
  days: DayTally[];
  totals: GranuleTally;
  /** The window's searches that failed for good and were not read since (each recorded on its cursor item). */
  failedQueries: FailedQuery[];
  /** Publication → verified-object latency (p50/p95/max) per day of the window, from the table. */
  latency: DayLatency[];
  /** What this run did. */
  run: {
    manifest: number;
    downloaded: number;
    alreadyDownloaded: number;
    leasedElsewhere: number;
    failed: number;
    failures: Record<string, number>;
    retries: number;
    bytes: number;
    wallSeconds: number;
    mbPerSecond: number;
  };
  /** True when the manifest was empty: everything in the window was already downloaded (or failed for good). */
  nothingToDownload: boolean;
  /** Leases a killed earlier run left behind, ended at start so their saved uploads resume now. */
  releasedLeases: ReleasedLease[];
  /** How the execution ended, as Step Functions reports it. */
  status: "SUCCEEDED" | "FAILED";
  /** Why it FAILED: the error and the top-level state it failed in (what a redrive restarts). */
  error?: { name: string; message: string; state: string };
  /** How often this execution was redriven (0 for a first run). */
  redriveCount: number;
  /** The Distributed Map's Map Run, when the execution reached it. */
  mapRun?: {
    stateName: string;
    mapRunArn: string;
    status: MapRunRecord["status"];
    succeeded: number;
    failed: number;
    pending: number;
    resultWriterDetails?: { Bucket: string; Key: string };
  };
  /** The state machine's output (Summarize's return value); absent when the execution FAILED. */
  output?: WindowSummary;
}

/** The summary of one execution: the table after it, per day and platform, and what it did. */
export async function summarizeRun(
  run: RunState,
  context: {
    checked: CheckedOptions;
    dataDir: string;
    hub: { kind: "dhus" | "cdse"; url: string; mock?: MockHub };
    stores: EmbeddedStores;
    started: number;
    releasedLeases: ReleasedLease[];
  },
): Promise<LocalRunSummary> {
  const { checked, dataDir, hub, stores, started, releasedLeases } = context;
  {
    const store = new GranuleStore(createDocumentClient(stores.dynamo), { tableName: stores.tableName });
    const { days, totals, failedQueries } = await summarizeWindow(
      { from: checked.from, to: checked.to },
      { store },
    );
    const latency = await latencyByDay(daysBetween(checked.from, checked.to), { store });
    const wallSeconds = (Date.now() - started) / 1000;
    const downloadSeconds = run.firstDownloadAt === undefined ? 0 : (Date.now() - run.firstDownloadAt) / 1000;
    const mapRun = Object.values(run.record.mapRuns)[0];
    const summary: LocalRunSummary = {
      executionName: run.executionName,
      from: checked.from,
      to: checked.to,
      platforms: checked.platforms,
      dataDir,
      hub: { kind: hub.kind, url: hub.url, mock: hub.mock !== undefined },
      store: { dynamo: stores.dynamoDescription, backend: stores.dynamoBackend },
      days,
      totals,
      failedQueries,
      latency,
      run: {
        manifest: run.manifest ?? 0,
        downloaded: run.downloaded,
        alreadyDownloaded: run.alreadyDownloaded,
        leasedElsewhere: run.leasedElsewhere,
        failed: run.failed,
        failures: run.failures,
        retries: run.retries,
        bytes: run.bytes,
        wallSeconds,
        mbPerSecond: downloadSeconds > 0 ? run.bytes / 1e6 / downloadSeconds : 0,
      },
      nothingToDownload: (run.manifest ?? 0) === 0,
      releasedLeases,
      status: run.record.status === "SUCCEEDED" ? "SUCCEEDED" : "FAILED",
      redriveCount: run.record.redriveCount,
      ...(run.record.error !== undefined && {
        error: { ...run.record.error, state: run.record.failedState?.name ?? "" },
      }),
      ...(mapRun !== undefined && {
        mapRun: {
          stateName: mapRun.stateName,
          mapRunArn: mapRun.mapRunArn,
          status: mapRun.status,
          succeeded: mapRun.children.filter((c) => c.status === "SUCCEEDED").length,
          failed: mapRun.children.filter((c) => c.status === "FAILED").length,
          pending: mapRun.children.filter((c) => c.status === "PENDING").length,
          ...(mapRun.resultWriterDetails !== undefined && {
            resultWriterDetails: mapRun.resultWriterDetails,
          }),
        },
      }),
      ...(run.output !== undefined && { output: run.output }),
    };
    return summary;
  }
}
