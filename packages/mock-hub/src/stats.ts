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

/** Introspection for tests: request counts per route and per granule, and injected faults. */
export class Introspection {
  private readonly routes = new Map<string, number>();
  private readonly granules = new Map<string, GranuleStats>();

  constructor(private readonly faults: FaultEngine) {}

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
    this.faults.resetCounters();
  }

  /** Everything, as JSON for `/__mock/stats`. */
  toJSON(): {
    routes: Record<string, number>;
    granules: Record<string, GranuleStats>;
    faults: Partial<Record<FaultKind, number>>;
  } {
    return {
      routes: Object.fromEntries(this.routes),
      granules: Object.fromEntries(this.granules),
      faults: this.faults.injectedByKind(),
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
