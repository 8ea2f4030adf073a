import {
  ARCHIVE_FAULT_KINDS,
  ARCHIVE_FAULT_VARIANTS,
  type ArchiveFaultKind,
  type ArchiveVariant,
  isArchiveFaultKind,
} from "./archive";
import { PagingFaultState, type PagingFaults } from "./paging";
import { fractionOf } from "./random";

/**
 * Fault kinds and where they apply:
 * - `http5xx`       checksum and/or `$value` (per granule, default `$value`); search pages (search faults). 503 by default.
 * - `throttle429`   as http5xx, with `Retry-After` (seconds, default 1).
 * - `authRefused`   as http5xx, answers 401.
 * - `gone`          checksum, `$value`, HEAD and CDSE's single-product route: 404 (or `status: 410`), every time.
 * - `checksumLate`  DHuS checksum route answers `Checksum {Algorithm: null, Value: null}` and CDSE drops the MD5
 *                   entry of `Checksum[]` (single product and listings) for the first `times` checksum requests (default 2).
 * - `resetAfterBytes` `$value` GET: the socket is destroyed after `bytes` body bytes (default half the body).
 * - `trickle`       `$value` GET: the body is sent at `bytesPerSecond` (default 16 KiB/s).
 * - `corruptOnce`   `$value` GET: one byte (the middle of the product) is flipped the first time it is served.
 * - `corruptAlways` `$value` GET: that byte is flipped every time.
 * - `malformedPage` search pages only: the JSON is cut short.
 * - `endlessBody`   search pages only: 200 with a JSON body that never ends (until the client hangs up).
 * - `ignoreOffset`  search pages only: DHuS `start` / CDSE `$skip` is ignored, the first page is served
 *                   (DHuS still echoes the requested `start` as `opensearch:startIndex`: the harder lie).
 * - `lengthLonger`  `$value` GET: Content-Length claims `bytes` (default 1000) more than is sent; the
 *                   connection is reset after the real bytes.
 * - `lengthShorter` `$value` GET: Content-Length and body stop `bytes` (default 1000) short of the product
 *                   (bytes a server writes past a short Content-Length never reach an HTTP client).
 * - `trailingGarbage` `$value` GET: no Content-Length (chunked) and `bytes` (default 4096) of garbage after the product.
 * - `rangeEarly`    `$value` GET with a Range from N > 0: a 206 from N − `bytes` (default 1000), as its Content-Range says.
 * - `zip…`          the product's zip as a broken upstream serves it (or as a streaming zipper writes it), on every
 *                   route and request, its MD5 that of those bytes: see ARCHIVE_FAULT_VARIANTS in archive.ts.
 * - `offline`       CDSE listings and single product say `Online: false` for the first `times` single-product
 *                   requests (default 2), then the product comes online; the zipper still answers.
 * Catalogue faults (FaultPlan fields applied when the catalogue is built, see createCatalogue):
 * - `duplicateNames` the fraction of products published a second time under a new id, same name and bytes.
 * Faults with `times` hit that many requests, then the route recovers (`Infinity`: always).
 */
export const FAULT_KINDS = [
  "http5xx",
  "throttle429",
  "resetAfterBytes",
  "trickle",
  "corruptOnce",
  "corruptAlways",
  "gone",
  "checksumLate",
  "authRefused",
  "malformedPage",
  "endlessBody",
  "ignoreOffset",
  "lengthLonger",
  "lengthShorter",
  "trailingGarbage",
  "rangeEarly",
  "offline",
  ...ARCHIVE_FAULT_KINDS,
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
const SEARCH_ONLY_KINDS = ["malformedPage", "endlessBody", "ignoreOffset"] as const;
export type GranuleFaultKind = Exclude<FaultKind, (typeof SEARCH_ONLY_KINDS)[number]>;
export type SearchFaultKind =
  | "http5xx"
  | "throttle429"
  | "authRefused"
  | "malformedPage"
  | "endlessBody"
  | "ignoreOffset";
const SEARCH_FAULT_KINDS: readonly SearchFaultKind[] = [
  "http5xx",
  "throttle429",
  "authRefused",
  ...SEARCH_ONLY_KINDS,
];
/** The routes a granule fault can hit: the checksum (DHuS checksum, CDSE single product) and the download. */
export type GranuleRoute = "checksum" | "value";

export interface GranuleFault {
  kind: GranuleFaultKind;
  /** Requests it hits before the route recovers; default 1 (checksumLate: 2; gone, corruptAlways: always). */
  times?: number;
  /** Routes it hits, for http5xx, throttle429 and authRefused; default `value`. */
  on?: GranuleRoute | "both";
  /** Status for http5xx (default 503) and gone (default 404). */
  status?: number;
  retryAfterSeconds?: number;
  /** resetAfterBytes: body bytes sent before the reset; lengthLonger/lengthShorter/trailingGarbage/rangeEarly: the lie's size. */
  bytes?: number;
  /** trickle: body rate. */
  bytesPerSecond?: number;
}

export interface SearchFault {
  kind: SearchFaultKind;
  /** Search requests it hits; default 1. */
  times?: number;
  /** Only pages at this offset (DHuS `start`, CDSE `$skip`, resto `index`); default any page. */
  offset?: number;
  status?: number;
  retryAfterSeconds?: number;
}

export interface FaultPlan {
  /** Seed of the rate draws; default the catalogue's. */
  seed?: string | number;
  /**
   * The duplicate-name fault: fraction of products the hub republishes under a second id (same name,
   * same bytes). A catalogue fault: whoever builds the catalogue passes it to createCatalogue.
   */
  duplicateNames?: number;
  /** Explicit faults by granule id. */
  granules?: Record<string, GranuleFault | GranuleFault[]>;
  /** Explicit faults on search pages (DHuS search, CDSE OData listing, resto). */
  search?: SearchFault[];
  /** Faults of the paging itself: ingestion, ties and withdrawals between pages (see paging.ts). */
  paging?: PagingFaults;
  /**
   * Fraction of granules hit by each kind, drawn from the seed (malformedPage: fraction of search pages,
   * each broken once). Parameters come from `defaults`.
   */
  rates?: Partial<Record<FaultKind, number>>;
  defaults?: {
    times?: number;
    retryAfterSeconds?: number;
    resetAfterBytes?: number;
    trickleBytesPerSecond?: number;
    checksumLateRequests?: number;
  };
}

/** What a route must do instead of (or while) answering normally. */
export type StatusFault =
  | { kind: "http5xx"; status: number }
  | { kind: "throttle429"; retryAfterSeconds: number }
  | { kind: "authRefused" }
  | { kind: "gone"; status: number }
  | { kind: "checksumLate" };

export interface BodyFaults {
  resetAfterBytes?: number;
  bytesPerSecond?: number;
  /** Offset of the byte to flip. */
  corruptAt?: number;
  /** Content-Length claims this many bytes more than sent; the connection is reset after the body. */
  claimExtraBytes?: number;
  /** Content-Length and body stop this many bytes short of the product's end. */
  claimFewerBytes?: number;
  /** Garbage bytes after the product, in a body without Content-Length. */
  garbageBytes?: number;
}

const ALWAYS = Number.POSITIVE_INFINITY;

/** Decides, request by request, which faults hit; counts what it injected. */
export class FaultEngine {
  private plan: FaultPlan;
  private readonly hits = new Map<string, number>();
  private readonly rateFaults = new Map<string, GranuleFault[]>();
  private readonly injected = new Map<string, number>();
  /** The search results each request sees under the plan's paging faults. */
  paging: PagingFaultState;

  constructor(
    plan: FaultPlan = {},
    private readonly defaultSeed: string | number = 0,
  ) {
    this.plan = validatePlan(plan);
    this.paging = new PagingFaultState(plan.paging);
  }

  setPlan(plan: FaultPlan): void {
    this.plan = validatePlan(plan);
    this.paging = new PagingFaultState(plan.paging);
    this.hits.clear();
    this.rateFaults.clear();
  }

  /** Injected faults by kind, for one granule or all. */
  injectedByKind(granuleId?: string): Partial<Record<FaultKind, number>> {
    const out: Partial<Record<FaultKind, number>> = {};
    for (const [key, count] of this.injected) {
      const [kind, id] = key.split("|") as [FaultKind, string];
      if (granuleId !== undefined && id !== granuleId) continue;
      out[kind] = (out[kind] ?? 0) + count;
    }
    return out;
  }

  resetCounters(): void {
    this.injected.clear();
  }

  /** A status fault for a granule's route, consuming one hit, or undefined to answer normally. */
  statusFault(granuleId: string, route: GranuleRoute, method = "GET"): StatusFault | undefined {
    const faults = this.faultsOf(granuleId);
    const gone = faults.find((f) => f.kind === "gone");
    if (gone !== undefined) return this.record(granuleId, { kind: "gone", status: gone.status ?? 404 });
    if (method === "HEAD") return undefined;
    for (const [index, fault] of faults.entries()) {
      const applies =
        fault.kind === "checksumLate"
          ? route === "checksum"
          : (fault.kind === "http5xx" || fault.kind === "throttle429" || fault.kind === "authRefused") &&
            (fault.on === "both" || (fault.on ?? "value") === route);
      if (!applies) continue;
      if (!this.take(`${granuleId}#${index}`, this.timesOf(fault))) continue;
      switch (fault.kind) {
        case "http5xx":
          return this.record(granuleId, { kind: "http5xx", status: fault.status ?? 503 });
        case "throttle429":
          return this.record(granuleId, { kind: "throttle429", retryAfterSeconds: this.retryAfter(fault) });
        case "authRefused":
          return this.record(granuleId, { kind: "authRefused" });
        default:
          return this.record(granuleId, { kind: "checksumLate" });
      }
    }
    return undefined;
  }

  /** Whether the MD5 is still unpublished in a listing (no hit is consumed: only checksum requests count). */
  checksumPending(granuleId: string): boolean {
    return this.faultsOf(granuleId).some(
      (fault, index) =>
        fault.kind === "checksumLate" && (this.hits.get(`${granuleId}#${index}`) ?? 0) < this.timesOf(fault),
    );
  }

  /** Body faults for one `$value` GET of bytes [start, end) of a product of `size` bytes, consuming hits. */
  bodyFaults(granuleId: string, start: number, end: number, size: number): BodyFaults {
    const out: BodyFaults = {};
    const corruptAt = Math.floor(size / 2);
    for (const [index, fault] of this.faultsOf(granuleId).entries()) {
      const key = `${granuleId}#${index}`;
      if (fault.kind === "resetAfterBytes" && this.take(key, this.timesOf(fault))) {
        out.resetAfterBytes =
          fault.bytes ?? this.plan.defaults?.resetAfterBytes ?? Math.max(1, Math.floor((end - start) / 2));
        this.record(granuleId, fault);
      } else if (fault.kind === "trickle" && this.take(key, this.timesOf(fault))) {
        out.bytesPerSecond = fault.bytesPerSecond ?? this.plan.defaults?.trickleBytesPerSecond ?? 16 * 1024;
        this.record(granuleId, fault);
      } else if (fault.kind === "lengthLonger" && this.take(key, this.timesOf(fault))) {
        out.claimExtraBytes = fault.bytes ?? 1000;
        this.record(granuleId, fault);
      } else if (fault.kind === "lengthShorter" && this.take(key, this.timesOf(fault))) {
        out.claimFewerBytes = Math.min(fault.bytes ?? 1000, Math.max(0, end - start - 1));
        this.record(granuleId, fault);
      } else if (fault.kind === "trailingGarbage" && this.take(key, this.timesOf(fault))) {
        out.garbageBytes = fault.bytes ?? 4096;
        this.record(granuleId, fault);
      } else if (
        (fault.kind === "corruptOnce" || fault.kind === "corruptAlways") &&
        corruptAt >= start &&
        corruptAt < end &&
        this.take(key, this.timesOf(fault))
      ) {
        out.corruptAt = corruptAt;
        this.record(granuleId, fault);
      }
    }
    return out;
  }

  /** The archive a zip… kind serves the product as, alike on every request; `count` (a `$value` GET) records it. */
  archiveVariant(granuleId: string, count = false): ArchiveVariant | undefined {
    const fault = this.faultsOf(granuleId).find((f) => isArchiveFaultKind(f.kind));
    if (fault !== undefined && count) this.record(granuleId, fault);
    return fault === undefined ? undefined : ARCHIVE_FAULT_VARIANTS[fault.kind as ArchiveFaultKind];
  }

  /** How many bytes early a Range answer starts (rangeEarly), consuming one hit; undefined to answer it right. */
  rangeEarlyBytes(granuleId: string, requestedStart: number): number | undefined {
    if (requestedStart === 0) return undefined;
    for (const [index, fault] of this.faultsOf(granuleId).entries()) {
      if (fault.kind !== "rangeEarly" || !this.take(`${granuleId}#${index}`, this.timesOf(fault))) continue;
      this.record(granuleId, fault);
      return Math.min(requestedStart, fault.bytes ?? 1000);
    }
    return undefined;
  }

  /** Whether CDSE says `Online: false` for the product; `consume` on single-product requests spends a hit. */
  offline(granuleId: string, consume: boolean): boolean {
    for (const [index, fault] of this.faultsOf(granuleId).entries()) {
      if (fault.kind !== "offline") continue;
      const key = `${granuleId}#${index}`;
      if (!consume) return (this.hits.get(key) ?? 0) < this.timesOf(fault);
      if (this.take(key, this.timesOf(fault))) {
        this.record(granuleId, fault);
        return true;
      }
    }
    return false;
  }

  /** A fault for a search page, consuming one hit. `pageKey` names the page (query and offset). */
  searchFault(
    pageKey: string,
    offset: number,
  ): { kind: SearchFaultKind; status?: number; retryAfterSeconds?: number } | undefined {
    for (const [index, fault] of (this.plan.search ?? []).entries()) {
      if (fault.offset !== undefined && fault.offset !== offset) continue;
      if (!this.take(`search#${index}`, fault.times ?? 1)) continue;
      this.record("", fault);
      return fault.kind === "throttle429" ? { ...fault, retryAfterSeconds: this.retryAfter(fault) } : fault;
    }
    const rate = this.plan.rates?.malformedPage;
    if (rate !== undefined && fractionOf(`${this.seed()}:malformedPage:${pageKey}`) < rate) {
      if (this.take(`page#${pageKey}`, 1)) return this.record("", { kind: "malformedPage" });
    }
    return undefined;
  }

  private faultsOf(granuleId: string): GranuleFault[] {
    const explicit = this.plan.granules?.[granuleId];
    if (explicit !== undefined) return Array.isArray(explicit) ? explicit : [explicit];
    let drawn = this.rateFaults.get(granuleId);
    if (drawn === undefined) {
      drawn = [];
      for (const [kind, rate] of Object.entries(this.plan.rates ?? {}) as [FaultKind, number][]) {
        if (!isGranuleKind(kind)) continue;
        if (fractionOf(`${this.seed()}:${kind}:${granuleId}`) < rate) drawn.push({ kind });
      }
      this.rateFaults.set(granuleId, drawn);
    }
    return drawn;
  }

  private seed(): string | number {
    return this.plan.seed ?? this.defaultSeed;
  }

  private timesOf(fault: GranuleFault): number {
    if (fault.kind === "gone" || fault.kind === "corruptAlways") return ALWAYS;
    if (fault.kind === "offline") return fault.times ?? this.plan.defaults?.times ?? 2;
    if (fault.kind === "corruptOnce") return 1;
    if (fault.kind === "checksumLate") return fault.times ?? this.plan.defaults?.checksumLateRequests ?? 2;
    return fault.times ?? this.plan.defaults?.times ?? 1;
  }

  private retryAfter(fault: { retryAfterSeconds?: number }): number {
    return fault.retryAfterSeconds ?? this.plan.defaults?.retryAfterSeconds ?? 1;
  }

  private take(key: string, times: number): boolean {
    const used = this.hits.get(key) ?? 0;
    if (used >= times) return false;
    this.hits.set(key, used + 1);
    return true;
  }

  private record<T extends { kind: FaultKind }>(granuleId: string, fault: T): T {
    const key = `${fault.kind}|${granuleId}`;
    this.injected.set(key, (this.injected.get(key) ?? 0) + 1);
    return fault;
  }
}

function isGranuleKind(kind: FaultKind): kind is GranuleFaultKind {
  return !(SEARCH_ONLY_KINDS as readonly string[]).includes(kind);
}

function validatePlan(plan: FaultPlan): FaultPlan {
  for (const [kind, rate] of Object.entries(plan.rates ?? {})) {
    if (!(FAULT_KINDS as readonly string[]).includes(kind))
      throw new RangeError(`rates: unknown fault kind ${kind}`);
    if (typeof rate !== "number" || rate < 0 || rate > 1)
      throw new RangeError(`rates.${kind} must be in [0, 1]`);
  }
  for (const [id, faults] of Object.entries(plan.granules ?? {})) {
    for (const fault of Array.isArray(faults) ? faults : [faults]) {
      if (
        !(FAULT_KINDS as readonly string[]).includes(fault.kind) ||
        (SEARCH_ONLY_KINDS as readonly string[]).includes(fault.kind)
      ) {
        throw new RangeError(`granules.${id}: ${fault.kind} is not a granule fault kind`);
      }
    }
  }
  for (const fault of plan.search ?? []) {
    if (!SEARCH_FAULT_KINDS.includes(fault.kind)) {
      throw new RangeError(`search: ${fault.kind} is not a search fault kind`);
    }
  }
  return plan;
}
