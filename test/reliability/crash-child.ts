/**
 * `npm run local` as the crash test drives it: one local day in this process, printing a JSON line
 * per event on stdout so the parent knows when transfers are in flight, and the summary and the mock
 * hub's counters at the end. `--trickle BYTES_PER_SECOND` slows each product's first body.
 */
import { parseArgs } from "node:util";
import { runLocal } from "@hls-s2/local";
import type { MockHub } from "@hls-s2/mock-hub";

const { values } = parseArgs({
  options: {
    "data-dir": { type: "string" },
    day: { type: "string" },
    granules: { type: "string" },
    size: { type: "string" },
    trickle: { type: "string" },
  },
});
const dataDir = values["data-dir"]!;
const day = values.day!;

let hub: MockHub | undefined;
const summary = await runLocal({
  dataDir,
  from: day,
  to: day,
  platforms: ["S2A", "S2B", "S2C"],
  seed: "crash",
  granulesPerDay: Number(values.granules),
  productSize: Number(values.size),
  concurrency: 4,
  retryDelayMs: 10,
  // The parent counts every catalogue product; the HLS tile filter is test/e2e/hls-tiles.test.ts's.
  allTiles: true,
  ...(values.trickle !== undefined && {
    faults: { rates: { trickle: 1 }, defaults: { trickleBytesPerSecond: Number(values.trickle) } },
  }),
  onMockHub: (mock) => {
    hub = mock;
    process.stdout.write(`${JSON.stringify({ event: "hub", url: mock.url })}\n`);
  },
  onProgress: (snapshot) => {
    if (snapshot.inFlight > 0)
      process.stdout.write(`${JSON.stringify({ event: "progress", ...snapshot })}\n`);
  },
});
process.stdout.write(`${JSON.stringify({ event: "released", released: summary.releasedLeases })}\n`);
process.stdout.write(`${JSON.stringify({ event: "done", summary, stats: hub?.stats.toJSON() })}\n`);
