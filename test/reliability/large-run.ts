/**
 * `npm run reliability`: the local day over 1,000 granules under the fault mix, printing the
 * figures docs/reliability.md quotes. Options: --granules N (default 1000), --seed S, --concurrency N.
 */
import "../setup/polyfills";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildCatalogue, runLocal } from "@hls-s2/local";
import type { MockHub } from "@hls-s2/mock-hub";
import { granulesOf, incompleteUploads, reopen } from "@hls-s2/testing/data-folder";
import { FAULT_MIX, faultMixPlan, KIB } from "./helpers";

const { values } = parseArgs({
  options: { granules: { type: "string" }, seed: { type: "string" }, concurrency: { type: "string" } },
});
const granules = Number(values.granules ?? 1000);
const seed = values.seed ?? "mix-large";
const concurrency = Number(values.concurrency ?? 15);
const day = "2026-03-20";
const params = {
  seed: "reliability-large-run",
  granulesPerDay: granules,
  productSize: { min: 64 * KIB, max: 512 * KIB },
};
const dataDir = await mkdtemp(join(tmpdir(), "hls-s2-reliability-"));
const started = Date.now();
let hub: MockHub | undefined;
try {
  const summary = await runLocal({
    dataDir,
    from: day,
    to: day,
    ...params,
    concurrency,
    retryDelayMs: 5,
    faults: faultMixPlan(seed),
    // The report accounts for every catalogue product, not only HLS's tiles.
    allTiles: true,
    onMockHub: (mock) => {
      hub = mock;
    },
  });
  const wallSeconds = (Date.now() - started) / 1000;
  const catalogue = buildCatalogue(params, [day]);
  const ids = catalogue.products.map((product) => product.id);
  const size = new Map(catalogue.products.map((product) => [product.id, product.sizeBytes]));
  // Downloaded granules whose body was broken and never corrupted: every byte served beyond the
  // product is a re-fetch caused by the resets (5xx/429/late-checksum answers carry no body bytes).
  // Corrupted granules are left out: their second whole download is the mismatch retry, not a reset.
  const resetIds = ids.filter((id) => {
    const injected = hub!.stats.faultsInjected(id);
    return (
      (injected.resetAfterBytes ?? 0) > 0 &&
      injected.gone === undefined &&
      injected.corruptAlways === undefined &&
      injected.corruptOnce === undefined
    );
  });
  const resetRefetched = resetIds.reduce(
    (sum, id) => sum + hub!.stats.granule(id).bytesServed - size.get(id)!,
    0,
  );
  const resetBytes = resetIds.reduce((sum, id) => sum + size.get(id)!, 0);
  const served = ids.reduce((sum, id) => sum + hub!.stats.granule(id).bytesServed, 0);
  const total = ids.reduce((sum, id) => sum + size.get(id)!, 0);

  const { stores, store } = await reopen(dataDir, { add: () => undefined });
  const records = await granulesOf(store, day);
  const byStatus: Record<string, number> = {};
  for (const record of records) byStatus[record.status] = (byStatus[record.status] ?? 0) + 1;
  const keys = await stores.listKeys();
  const uploads = await incompleteUploads(stores);
  await stores.close();

  const figures = {
    granules,
    faultMix: FAULT_MIX,
    faultsInjected: hub!.stats.faultsInjected(),
    outcomes: { byStatus, failures: summary.totals.failures },
    objects: keys.length,
    incompleteUploads: uploads.length,
    valueGets: hub!.stats.route("dhus.value"),
    bytes: { catalogue: total, served, reFetchedOverall: served - total },
    resets: {
      granules: resetIds.length,
      productBytes: resetBytes,
      reFetchedBytes: resetRefetched,
      reFetchedPercent: resetBytes === 0 ? 0 : Number(((resetRefetched / resetBytes) * 100).toFixed(3)),
    },
    retries: summary.run.retries,
    wallSeconds,
  };
  process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
