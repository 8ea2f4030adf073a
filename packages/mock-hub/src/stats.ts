import type { FaultEngine, FaultKind } from "./faults";

/** Route names counted by the introspection. */
export const ROUTE_NAMES = [
  "dhus.search",
  "dhus.checksum",
  "dhus.value",
  "cdse.products",
  "cdse.product",
  "cdse.value",
  "cdse.resto",
  "cdse.token",
  "mock.stats",
  "mock.catalogue",
  "mock.faults",
  "notFound",
] as const;
export type RouteName = (typeof ROUTE_NAMES)[number];

export interface GranuleStats {
  /** `$value` GETs (with or without Range). */
  valueGets: number;
  /** `$value` GETs that carried a Range header. */
  rangeGets: number;
  headRequests: number;
  /** Body bytes actually written to sockets for this granule. */
  bytesServed: number;
  /** Checksum requests (DHuS checksum route, CDSE single product). */
  checksumGets: number;
}

/**
 * Concurrent `$value` GETs across every account and flavour, with an optional hub-wide limit: beyond
 * it the hub answers 429 as CDSE does ("Max session number 4 exceeded"). Tests read the peak.
 */
export class DownloadGate {
  #inFlight = 0;
  #peak = 0;
  #refused = 0;

  /** No limit when undefined. */
  constructor(readonly limit?: number) {
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1))
      throw new RangeError(`maxDownloads must be an integer ≥ 1, got ${limit}`);
  }

  /** Counts a download in; false (and counted refused) when the limit is reached. */
  begin(): boolean {
    if (this.limit !== undefined && this.#inFlight >= this.limit) {
      this.#refused++;
      return false;
    }
    this.#inFlight++;
    this.#peak = Math.max(this.#peak, this.#inFlight);
    return true;
  }

  end(): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
  }

  /** Bodies in flight now, the most at once since the last reset, and 429s answered for the limit. */
  snapshot(): { limit?: number; inFlight: number; peak: number; refused: number } {
    return { limit: this.limit, inFlight: this.#inFlight, peak: this.#peak, refused: this.#refused };
  }

  reset(): void {
    this.#peak = this.#inFlight;
    this.#refused = 0;
  }
}

/** Introspection for tests: request counts per route and per granule, and injected faults. */
export class Introspection {
  private readonly routes = new Map<string, number>();
  private readonly granules = new Map<string, GranuleStats>();
  /** Concurrent `$value` GETs (and the hub-wide limit, `--max-downloads`). */
  readonly downloads: DownloadGate;

  constructor(
    private readonly faults: FaultEngine,
    maxDownloads?: number,
  ) {
    this.downloads = new DownloadGate(maxDownloads);
  }

  /** Requests served by a route since the last reset. */
  route(name: RouteName): number {
    return this.routes.get(name) ?? 0;
  }

  /** Counters of one granule (zeros when it was never asked for). */
  granule(id: string): GranuleStats {
    return { ...(this.granules.get(id) ?? emptyGranule()) };
  }

  /** Faults injected by kind, for one granule or in total. */
  faultsInjected(granuleId?: string): Partial<Record<FaultKind, number>> {
    return this.faults.injectedByKind(granuleId);
  }

  reset(): void {
    this.routes.clear();
    this.granules.clear();
    this.downloads.reset();
    this.faults.resetCounters();
  }

  /** Everything, as JSON for `/__mock/stats`. */
  toJSON(): {
    routes: Record<string, number>;
    granules: Record<string, GranuleStats>;
    faults: Partial<Record<FaultKind, number>>;
    downloads: ReturnType<DownloadGate["snapshot"]>;
  } {
    return {
      routes: Object.fromEntries(this.routes),
      granules: Object.fromEntries(this.granules),
      faults: this.faults.injectedByKind(),
      downloads: this.downloads.snapshot(),
    };
  }

  countRoute(name: RouteName): void {
    this.routes.set(name, (this.routes.get(name) ?? 0) + 1);
  }

  countGranule(id: string, field: keyof GranuleStats, amount = 1): void {
    let stats = this.granules.get(id);
    if (stats === undefined) {
      stats = emptyGranule();
      this.granules.set(id, stats);
    }
    stats[field] += amount;
  }
}

function emptyGranule(): GranuleStats {
  return { valueGets: 0, rangeGets: 0, headRequests: 0, bytesServed: 0, checksumGets: 0 };
}
