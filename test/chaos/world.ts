import { MOCK_CREDENTIALS } from "@hls-s2/local";
import {
  type Catalogue,
  createCatalogue,
  type FaultPlan,
  type MockProduct,
  parseDhusQuery,
  startMockHub,
} from "@hls-s2/mock-hub";
import { type LoopbackProxy, startLoopbackProxy } from "@hls-s2/testing/loopback-proxy";

const MINUTE_MS = 60_000;

export interface WorldOptions {
  seed: string;
  days: string[];
  granulesPerDay: number;
  /** Product sizes (bytes): small, so a 1,000-granule run stays light. */
  productSize: { min: number; max: number };
  /** Products made multi-part (3 parts of 5 MiB), for the stalled-part fault. */
  bigProducts: number;
  /** Whether a product's push notification is lost (the big products are chosen among those). */
  pushLost: (id: string) => boolean;
  /** Every `tieEvery`-th product of a day takes its predecessor's publication time. */
  tieEvery: number;
  /** Products the hub ingests between two pages of one search (per phase), and withdraws (per phase). */
  ingestPerPage: number;
  withdrawPerPhase: number;
  /** When the hub answers "checksum not yet published" for every product (simulated time). */
  checksumLate: { from: Date; minutes: number };
}

export interface WorldEvents {
  ingestedDuringPaging: number;
  withdrawn: string[];
  tiedProducts: number;
  reorderedTies: number;
  checksumLatePhases: number;
}

/**
 * The hub's side of the chaos run: the mock hub behind a loopback proxy that changes the catalogue as a
 * real hub does while the downloader pages it. Products become searchable at their publication time
 * (simulated clock), some during a search, between two of its pages; a product is withdrawn between
 * pages (later offsets shift by one); products sharing a publication time come in another order on each
 * request (DHuS documents no tie-breaker); and for an hour no checksum is published.
 */
// TODO(paging): once the `paging` helper's mock-hub fault kinds (ingest during paging, tied times,
// withdrawal between pages) are in main, they may replace this proxy's catalogue edits.
export class ChaosWorld {
  readonly events: WorldEvents = {
    ingestedDuringPaging: 0,
    withdrawn: [],
    tiedProducts: 0,
    reorderedTies: 0,
    checksumLatePhases: 0,
  };
  private now = new Date(0);
  private readonly withdrawn = new Set<string>();
  /** Products made searchable ahead of their publication time, during a search: ingested then. */
  readonly ingestedEarly = new Set<string>();
  /** When (simulated) each publication day was first searched. */
  private readonly firstSearched = new Map<string, Date>();
  /** Products a withdrawal moved onto a page the search had already read. */
  readonly shiftedPast = new Set<string>();
  /** Products of several parts (the stalled-part fault's targets). */
  readonly multipart = new Set<string>();
  /** Products sharing their publication time with another. */
  readonly tied = new Set<string>();
  private withdrawBudget = 0;
  private searches = 0;

  private constructor(
    readonly catalogue: Catalogue,
    private readonly all: MockProduct[],
    private readonly options: WorldOptions,
    private readonly hub: Awaited<ReturnType<typeof startMockHub>>,
    private readonly proxy: LoopbackProxy,
  ) {}

  static async start(options: WorldOptions): Promise<ChaosWorld> {
    const catalogue = createCatalogue({
      seed: options.seed,
      days: options.days,
      granulesPerDay: options.granulesPerDay,
      sizeBytes: options.productSize,
      platforms: ["S2A", "S2B", "S2C"],
    });
    const all = [...catalogue.products];
    // Multi-part products and ties are set before any byte or MD5 is served (both derive from the size).
    const big: string[] = [];
    // Afternoon products of the later days whose push is lost: the daily run of the next day is the
    // first to download them, and the last run whose window holds their day (with a 1-day look-back).
    const candidates = all.filter(
      (product) =>
        product.day !== options.days[0] &&
        product.publishedAt.slice(11) > "12:00" &&
        options.pushLost(product.id),
    );
    for (let i = 0; i < options.bigProducts && candidates.length > 0; i++) {
      const product = candidates[Math.floor(((i + 0.5) * candidates.length) / options.bigProducts)]!;
      if (big.includes(product.id)) continue;
      product.sizeBytes = 15 * 1024 * 1024 - 4096;
      big.push(product.id);
    }
    let tied = 0;
    const tiedIds: string[] = [];
    for (const day of options.days) {
      const ofDay = all.filter((product) => product.day === day);
      for (let i = options.tieEvery; i < ofDay.length; i += options.tieEvery) {
        ofDay[i]!.publishedAt = ofDay[i - 1]!.publishedAt;
        tiedIds.push(ofDay[i]!.id, ofDay[i - 1]!.id);
        tied++;
      }
    }
    all.sort((a, b) => a.publishedAt.localeCompare(b.publishedAt) || a.id.localeCompare(b.id));
    const hub = await startMockHub({ catalogue, port: 0, host: "127.0.0.1", credentials: MOCK_CREDENTIALS });
    let world: ChaosWorld | undefined;
    const proxy = await startLoopbackProxy({
      target: hub.url,
      decide: (request) => {
        world?.beforeRequest(request.url);
        return "forward";
      },
    });
    world = new ChaosWorld(catalogue, all, options, hub, proxy);
    world.events.tiedProducts = tied;
    for (const id of tiedIds) world.tied.add(id);
    for (const id of big) world.multipart.add(id);
    world.setNow(new Date(0));
    return world;
  }

  /** Where the downloader reaches the hub (DHuS routes under /dhus). */
  get url(): string {
    return this.proxy.url;
  }

  /** Moves the hub's clock: what is searchable, and whether checksums are published. */
  setNow(now: Date): void {
    this.now = now;
    this.withdrawBudget = this.options.withdrawPerPhase;
    const late = this.options.checksumLate;
    const inLateHour =
      now.getTime() >= late.from.getTime() && now.getTime() < late.from.getTime() + late.minutes * MINUTE_MS;
    const plan: FaultPlan = {};
    if (inLateHour) {
      this.events.checksumLatePhases++;
      plan.granules = Object.fromEntries(
        this.all.map((product) => [product.id, { kind: "checksumLate", times: Number.POSITIVE_INFINITY }]),
      );
    }
    this.hub.setFaults(plan);
    this.publish();
  }

  /** Whether the hub publishes checksums right now. */
  checksumsPublished(): boolean {
    const late = this.options.checksumLate;
    const t = this.now.getTime();
    return t < late.from.getTime() || t >= late.from.getTime() + late.minutes * MINUTE_MS;
  }

  /** Products searchable now (published, not withdrawn), oldest first. */
  published(): MockProduct[] {
    return this.all.filter(
      (product) =>
        !this.withdrawn.has(product.id) &&
        (Date.parse(product.publishedAt) <= this.now.getTime() || this.ingestedEarly.has(product.id)),
    );
  }

  /** Every product that is, or will be, searchable (never withdrawn): what the table must end up holding. */
  kept(): MockProduct[] {
    return this.all.filter((product) => !this.withdrawn.has(product.id));
  }

  /** What the hub did to a product that bears on finding it: tied, ingested mid-search, shifted. */
  notesOf(id: string): string[] {
    const notes: string[] = [];
    const product = this.catalogue.get(id);
    const searched = product === undefined ? undefined : this.firstSearched.get(product.day);
    if (
      product !== undefined &&
      searched !== undefined &&
      Date.parse(product.publishedAt) > searched.getTime()
    ) {
      notes.push(`published after its day was first searched (${searched.toISOString().slice(11, 16)})`);
    }
    if (this.tied.has(id)) notes.push("publication time tied");
    if (this.ingestedEarly.has(id)) notes.push("ingested during paging");
    if (this.shiftedPast.has(id)) notes.push("shifted by a withdrawal between pages");
    return notes;
  }

  async close(): Promise<void> {
    await this.proxy.close();
    await this.hub.close();
  }

  /** Rewrites the catalogue's listing in place (the mock hub reads it on every search request). */
  private publish(rotation = 0): void {
    const listing = this.catalogue.products as MockProduct[];
    const visible = this.published();
    // Ties come in another order on each request: rotate each group of equal publication times.
    const out: MockProduct[] = [];
    for (let i = 0; i < visible.length; ) {
      let j = i + 1;
      while (j < visible.length && visible[j]!.publishedAt === visible[i]!.publishedAt) j++;
      const group = visible.slice(i, j);
      const shift = rotation % group.length;
      if (shift !== 0) this.events.reorderedTies++;
      out.push(...group.slice(shift), ...group.slice(0, shift));
      i = j;
    }
    listing.length = 0;
    listing.push(...out);
  }

  /** Before a search page is served: a later page of a search is where ingests and withdrawals land. */
  private beforeRequest(url: string): void {
    const parsed = new URL(url, "http://127.0.0.1");
    if (!parsed.pathname.endsWith("/search")) return;
    this.searches++;
    const start = Number(parsed.searchParams.get("start") ?? "0");
    let query: ReturnType<typeof parseDhusQuery> | undefined;
    try {
      query = parseDhusQuery(parsed.searchParams.get("q") ?? "");
    } catch {
      query = undefined;
    }
    if (query?.from !== undefined) {
      const day = new Date(query.from).toISOString().slice(0, 10);
      if (!this.firstSearched.has(day)) this.firstSearched.set(day, this.now);
    }
    if (start > 0) {
      const inQuery = (product: MockProduct) =>
        query !== undefined &&
        (query.platform === undefined || product.platform === query.platform) &&
        (query.from === undefined || Date.parse(product.publishedAt) >= query.from) &&
        (query.to === undefined || Date.parse(product.publishedAt) <= query.to);
      // Ingest: the next products of this search's day become searchable now, between two of its pages.
      const coming = this.all.filter(
        (product) =>
          inQuery(product) &&
          !this.withdrawn.has(product.id) &&
          !this.ingestedEarly.has(product.id) &&
          Date.parse(product.publishedAt) > this.now.getTime(),
      );
      for (const product of coming.slice(0, this.options.ingestPerPage)) {
        this.ingestedEarly.add(product.id);
        this.events.ingestedDuringPaging++;
      }
      // Withdraw: a product this search already passed, so every later offset shifts by one.
      if (this.withdrawBudget > 0) {
        const passed = this.published().filter(inQuery);
        const victim = passed[Math.min(start, passed.length) - 1];
        if (victim !== undefined) {
          // The product that moves onto the page already served is the one this search skips.
          const skipped = passed[Math.min(start, passed.length)];
          if (skipped !== undefined) this.shiftedPast.add(skipped.id);
          this.withdrawn.add(victim.id);
          this.events.withdrawn.push(victim.id);
          this.withdrawBudget--;
        }
      }
    }
    this.publish(this.searches);
  }
}
