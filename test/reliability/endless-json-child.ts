/**
 * The endless-JSON-body attack in a process of its own, so its peak RSS is its own: a mock hub whose
 * every search answer is a 200 JSON body that never ends, searched through the real DHuS and CDSE
 * clients. Prints one JSON line: the error each search ended with and the process's peak RSS.
 */
import { CdseHub, DhusHub } from "@hls-s2/core/hub";
import { createCatalogue, startMockHub } from "@hls-s2/mock-hub";

const day = "2026-11-24";
const hub = await startMockHub({
  catalogue: createCatalogue({ seed: "endless", days: [day], granulesPerDay: 5, sizeBytes: 100_000 }),
  faults: { search: [{ kind: "endlessBody", times: Number.POSITIVE_INFINITY }] },
});
// Short backoff, and a request timeout long enough that an uncapped client would read gigabytes.
const http = {
  retries: 2,
  minTimeoutMs: 10,
  maxTimeoutMs: 20,
  timeoutMs: 30_000,
  // Only to see the attack succeed against an uncapped reader (`--uncapped`): the test never sets it.
  ...(process.argv.includes("--uncapped") && { maxJsonBytes: 2 ** 40, timeoutMs: 8000, retries: 0 }),
};
const credentials = { username: "u", password: "p" };
const filterRules = { maxAcquisitionAgeDays: 3650 };
const hubs = [
  new DhusHub({ url: hub.url, credentials, filterRules, http }),
  new CdseHub({ catalogueUrl: hub.url, downloadUrl: hub.url, credentials, filterRules, http }),
];
const errors: string[] = [];
for (const client of hubs) {
  try {
    await client.listSearchPage({ day, platform: "S2A" }, 0);
    errors.push("none");
  } catch (error) {
    errors.push((error as Error).name);
  }
}
const searches = { dhus: hub.stats.route("dhus.search"), cdse: hub.stats.route("cdse.products") };
await hub.close();
// maxRSS is in KiB.
console.log(JSON.stringify({ errors, peakRssMiB: process.resourceUsage().maxRSS / 1024, searches }));
