/**
 * `npm run local` as the crash test drives it: one local day in this process against a hub the test
 * runs (so the hub's byte counters survive this process being killed), printing a JSON line per event
 * on stdout and the summary at the end. `--kill-after-complete N` SIGKILLs this process right after
 * the embedded S3 stored the Nth object and before it answers: the crash between
 * CompleteMultipartUpload and the table's DOWNLOADED mark.
 */
import { parseArgs } from "node:util";
import { MOCK_CREDENTIALS, runLocal } from "@hls-s2/local";

const { values } = parseArgs({
  options: {
    "data-dir": { type: "string" },
    day: { type: "string" },
    "hub-url": { type: "string" },
    concurrency: { type: "string" },
    "kill-after-complete": { type: "string" },
  },
});
const dataDir = values["data-dir"]!;
const day = values.day!;
const killAfter =
  values["kill-after-complete"] === undefined ? undefined : Number(values["kill-after-complete"]);
let completed = 0;

const summary = await runLocal({
  dataDir,
  dynamo: "dynalite",
  from: day,
  to: day,
  platforms: ["S2A", "S2B", "S2C"],
  hub: { kind: "dhus", url: values["hub-url"]!, credentials: MOCK_CREDENTIALS },
  concurrency: Number(values.concurrency ?? 4),
  retryDelayMs: 10,
  // The parent counts every catalogue product; the HLS tile filter is test/e2e/hls-tiles.test.ts's.
  allTiles: true,
  onUploadCompleted: ({ key, uploadId }) => {
    // CompleteMultipartUpload only: a one-part product's PutObject (uploadId "") is not what this kill aims at.
    if (uploadId === "") return;
    completed += 1;
    process.stdout.write(`${JSON.stringify({ event: "completed", key })}\n`);
    if (completed === killAfter) process.kill(process.pid, "SIGKILL");
  },
  onProgress: (snapshot) => {
    if (snapshot.inFlight > 0)
      process.stdout.write(`${JSON.stringify({ event: "progress", ...snapshot })}\n`);
  },
});
process.stdout.write(`${JSON.stringify({ event: "released", released: summary.releasedLeases })}\n`);
process.stdout.write(`${JSON.stringify({ event: "done", summary })}\n`);
