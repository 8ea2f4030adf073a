import type { MockProduct } from "./catalogue";

/**
 * Faults of a hub's paging, applied to each search request's results (one query, oldest first):
 * - `ingest`   the newest `count` results (default 1) stay unlisted until `afterRequests` search
 *              requests were answered, then appear: products ingested while a day is paged.
 * - `tie`      the `size` results (default 2) around position `offset` share the publication (ingestion)
 *              time of the first of them, so a page boundary at `offset` falls inside a tie. DHuS, which
 *              documents no tie-breaker, lists them in reverse on every other request; CDSE orders them by
 *              id ("additional orderby by id is also used").
 * - `withdraw` from search request `afterRequests` + 1 on, the `count` results (default 1) from position
 *              `at` (default 0) are withdrawn: every later offset shifts by `count`. Search only; the
 *              product routes still answer for them.
 * Positions count in each query's own oldest-first list; search requests count across both APIs
 * (CDSE count-only requests included) from the plan's start.
 */
export interface PagingFaults {
  ingest?: { afterRequests: number; count?: number };
  tie?: { offset: number; size?: number };
  withdraw?: { afterRequests: number; at?: number; count?: number };
}

/** What the paging faults did so far, for a test to check its fault fired. */
export interface PagingFaultCounts {
  requests: number;
  /** Requests answered without the not-yet-ingested results. */
  hidden: number;
  /** Requests answered without the withdrawn results. */
  withdrawn: number;
  /** Requests whose results held a tie. */
  tied: number;
}

/** Applies a plan's paging faults request by request; a new plan starts the count again. */
export class PagingFaultState {
  readonly counts: PagingFaultCounts = { requests: 0, hidden: 0, withdrawn: 0, tied: 0 };

  constructor(private readonly faults: PagingFaults = {}) {
    for (const [name, fault] of Object.entries(faults) as [string, Record<string, number | undefined>][]) {
      for (const [field, value] of Object.entries(fault)) {
        if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
          throw new RangeError(`paging.${name}.${field} must be a non-negative integer`);
        }
      }
    }
  }

  /**
   * The results one search request sees: `matching` is the query's full result list, oldest first with
   * ties by id; products whose time a tie changed are copies.
   */
  view(matching: readonly MockProduct[], api: "dhus" | "cdse"): MockProduct[] {
    this.counts.requests += 1;
    const request = this.counts.requests;
    const { ingest, tie, withdraw } = this.faults;
    const gone = new Set<MockProduct>();
    if (withdraw !== undefined && request > withdraw.afterRequests) {
      const at = withdraw.at ?? 0;
      for (const product of matching.slice(at, at + (withdraw.count ?? 1))) gone.add(product);
      if (gone.size > 0) this.counts.withdrawn += 1;
    }
    if (ingest !== undefined && request <= ingest.afterRequests) {
      const hidden = matching.slice(Math.max(0, matching.length - (ingest.count ?? 1)));
      for (const product of hidden) gone.add(product);
      if (hidden.length > 0) this.counts.hidden += 1;
    }
    const visible = matching.filter((product) => !gone.has(product));
    if (tie === undefined) return visible;
    const size = tie.size ?? 2;
    const first = Math.max(0, tie.offset - Math.floor(size / 2));
    const group = visible.slice(first, first + size);
    if (group.length < 2) return visible;
    this.counts.tied += 1;
    const at = group[0]!.publishedAt;
    const tied = group.map((product) => ({ ...product, publishedAt: at }));
    if (api === "cdse") tied.sort((a, b) => a.id.localeCompare(b.id));
    else if (request % 2 === 0) tied.reverse();
    return [...visible.slice(0, first), ...tied, ...visible.slice(first + group.length)];
  }
}
