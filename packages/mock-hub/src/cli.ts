import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createCatalogue, type MockPlatform } from "./catalogue";
import { FAULT_PROFILES } from "./fault-profiles";
import { FAULT_KINDS, FaultEngine, type FaultPlan } from "./faults";
import { startMockHub } from "./server";
import { credentialsOf, parseDays, parseSize } from "./settings";

const USAGE = `npm run mock-hub -- [options]
  --port 8080                 0 = a free port (default 8080)
  --seed 42                   catalogue seed (default 42)
  --days 2026-11-24           days, comma-separated or a span 2026-11-20..2026-11-24 (default today)
  --granules 50               granules per day (default 50)
  --size 1MiB                 product size, or a range 512KiB-4MiB (default 1MiB)
  --platforms S2A,S2B         (default S2A,S2B)
  --username u --password p   DHuS Basic and CDSE password-grant account (default: any accepted)
  --download-username/--download-password   a second DHuS pair (IntHub2)
  --fault-profile none        none | light | heavy | lying (framing lies, early Content-Range, offline, trickle)
  --faults '{"search":[{"kind":"ignoreOffset","times":1e9}]}'
                              a fault plan as JSON (or @file.json), replacing the profile; kinds:
                              ${FAULT_KINDS.join(", ")}
  --bandwidth 20MB            per-connection $value limit (default unlimited)
  --max-downloads 4           concurrent $value GETs the hub serves (every account), HTTP 429
                              "Max session number N exceeded" beyond, as CDSE answers (default unlimited)`;

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8080" },
    seed: { type: "string", default: "42" },
    days: { type: "string", default: new Date().toISOString().slice(0, 10) },
    granules: { type: "string", default: "50" },
    size: { type: "string", default: "1MiB" },
    platforms: { type: "string", default: "S2A,S2B" },
    username: { type: "string" },
    password: { type: "string" },
    "download-username": { type: "string" },
    "download-password": { type: "string" },
    "fault-profile": { type: "string", default: "none" },
    faults: { type: "string" },
    bandwidth: { type: "string" },
    "max-downloads": { type: "string" },
    help: { type: "boolean", default: false },
  },
});

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const profile = values["fault-profile"] as keyof typeof FAULT_PROFILES;
if (FAULT_PROFILES[profile] === undefined) {
  console.error(`--fault-profile must be one of ${Object.keys(FAULT_PROFILES).join(", ")}\n\n${USAGE}`);
  process.exit(2);
}
let faults: FaultPlan = FAULT_PROFILES[profile];
if (values.faults !== undefined) {
  try {
    const text = values.faults.startsWith("@") ? readFileSync(values.faults.slice(1), "utf8") : values.faults;
    faults = JSON.parse(text) as FaultPlan;
    // Validates kinds and rates now, not at the first request.
    new FaultEngine(faults);
  } catch (error) {
    console.error(`--faults: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}
const bandwidth = values.bandwidth === undefined ? undefined : parseSize(values.bandwidth);
const maxDownloads = values["max-downloads"] === undefined ? undefined : Number(values["max-downloads"]);
if (maxDownloads !== undefined && !(Number.isInteger(maxDownloads) && maxDownloads >= 1)) {
  console.error(`--max-downloads must be an integer ≥ 1\n\n${USAGE}`);
  process.exit(2);
}
const catalogue = createCatalogue({
  seed: values.seed,
  days: parseDays(values.days),
  granulesPerDay: Number(values.granules),
  sizeBytes: parseSize(values.size),
  platforms: values.platforms.split(",") as MockPlatform[],
});
const hub = await startMockHub({
  catalogue,
  port: Number(values.port),
  credentials: credentialsOf(values.username, values.password),
  downloadCredentials: credentialsOf(values["download-username"], values["download-password"]),
  faults,
  bandwidthBytesPerSecond: typeof bandwidth === "number" ? bandwidth : undefined,
  maxDownloads,
});
console.log(
  `mock hub listening on ${hub.url} (${catalogue.products.length} products, faults: ${values.faults === undefined ? profile : "custom plan"})`,
);
console.log(`  DHuS search  ${hub.url}/dhus/search   CDSE OData  ${hub.url}/odata/v1/Products`);
console.log(`  catalogue    ${hub.url}/__mock/catalogue   stats ${hub.url}/__mock/stats`);
const stop = async () => {
  await hub.close();
  process.exit(0);
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
