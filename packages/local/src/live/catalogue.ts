import { type Catalogue, createCatalogue, type MockProduct } from "@hls-s2/mock-hub";

/** A simulated day in milliseconds. */
export const SIMULATED_DAY_MS = 86_400_000;

export interface LiveCatalogueOptions {
  seed: string;
  /** Granules published over the simulated day (all platforms). */
  granules: number;
  /** The publication day (YYYY-MM-DD, today: the run's real day). */
  day: string;
  /** Product sizes (bytes) as served here: the real ones scaled down. */
  sizeBytes: { min: number; max: number };
  /** How much of the simulated day is published (0–1]; default the whole day. */
  dayShare?: number;
}

/** A product and when the hub publishes it: simulated ms after the day's start, then real epoch ms. */
export interface LiveRelease {
  product: MockProduct;
  offsetMs: number;
  /** Set by LiveCatalogue.begin: Infinity until then. */
  releaseMs: number;
}

/**
 * A hub's day as the live day plays it: products published in bursts, one per datatake (a satellite's
 * continuous acquisition, processed and published together: tens to a hundred and more L1C tiles within
 * minutes), the datatakes spread over the day. Each product's PublicationDate is the real time the mock
 * hub publishes it, so publication → verified object is measured by the downloader's own clock; the
 * summary multiplies it by `speed` into simulated minutes.
 */
export function planLiveDay(options: LiveCatalogueOptions): { releases: LiveRelease[]; base: Catalogue } {
  const { seed, granules, sizeBytes, day } = options;
  const dayShare = options.dayShare ?? 1;
  // A day's rate: the share of the day played publishes that share of the day's granules.
  const base = createCatalogue({
    seed,
    days: [day],
    platforms: ["S2A", "S2B", "S2C"],
    granulesPerDay: Math.round(granules * dayShare),
    sizeBytes,
  });
  const random = mulberry(hashOf(seed));
  const simulatedSpan = SIMULATED_DAY_MS * dayShare;
  const releases: LiveRelease[] = [];
  let next = 0;
  const products = [...base.products].sort((a, b) => a.id.localeCompare(b.id));
  while (next < products.length) {
    // A datatake: 20–150 tiles published within 2–10 simulated minutes, at a uniform time of the day
    // (a short share of the day gets proportionally smaller bursts, so it still sees several).
    const size = Math.min(
      products.length - next,
      Math.ceil((20 + random() * 131) * Math.min(1, dayShare * 8)),
    );
    const burstStart = random() * simulatedSpan;
    const burstLength = (2 + random() * 8) * 60_000;
    for (let i = 0; i < size; i++) {
      const offsetMs = Math.min(simulatedSpan, burstStart + random() * burstLength);
      releases.push({ product: products[next++]!, offsetMs, releaseMs: Number.POSITIVE_INFINITY });
    }
  }
  releases.sort((a, b) => a.offsetMs - b.offsetMs || a.product.id.localeCompare(b.product.id));
  return { releases, base };
}

/**
 * The mock hub's catalogue of a live day: a product is listed and served only from its release on
 * (`now`), with the PublicationDate of its release; bytes and MD5 are the base catalogue's.
 */
export function liveCatalogue(
  releases: LiveRelease[],
  base: Pick<Catalogue, "seed" | "expectedMd5" | "expectedMd5Async" | "chunks" | "bytes">,
  now: () => number = Date.now,
): Catalogue & { begin(startMs: number, speed: number): void } {
  const byId = new Map(releases.map((release) => [release.product.id, release]));
  const released = () => {
    const at = now();
    let count = 0;
    while (count < releases.length && releases[count]!.releaseMs <= at) count++;
    return releases.slice(0, count).map((release) => release.product);
  };
  return {
    /** Starts the day's clock: each product's publication is its offset on a clock `speed` times faster. */
    begin(startMs, speed) {
      for (const release of releases) {
        release.releaseMs = Math.round(startMs + release.offsetMs / speed);
        const publishedAt = new Date(release.releaseMs).toISOString();
        release.product = { ...release.product, publishedAt, day: publishedAt.slice(0, 10) };
      }
    },
    seed: base.seed,
    get products() {
      return released();
    },
    get(id) {
      const release = byId.get(id);
      return release !== undefined && release.releaseMs <= now() ? release.product : undefined;
    },
    expectedMd5: (id, variant) => base.expectedMd5(id, variant),
    expectedMd5Async: (id, variant) => base.expectedMd5Async(id, variant),
    chunks: (id, start, end, variant) => base.chunks(id, start, end, variant),
    bytes: (id, start, end, variant) => base.bytes(id, start, end, variant),
  };
}

function hashOf(text: string): number {
  let hash = 2166136261;
  for (const char of text) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619);
  return hash >>> 0;
}

/** A small seeded generator: the same seed plays the same day. */
function mulberry(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
