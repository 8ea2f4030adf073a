import * as v from "valibot";
import { DAY_MS } from "../../../domain/day";
import { describeIssues, InvalidHubDataError, InvalidInputError } from "../../../domain/errors";
import type { FilterRules } from "../../../domain/filters";
import type { DiscoveredGranule, Platform } from "../../../domain/granule";
import { getJson, type HttpTuning } from "../http";
import {
  checkSearchQuery,
  type HubCallOptions,
  type RejectedEntry,
  type SearchPage,
  type SearchQuery,
} from "../hub";
import { cdseEntryToGranule } from "./product";

/** CDSE refuses `$skip` above this: a query with more results is split into smaller publication windows. */
export const CDSE_MAX_SKIP = 10_000;
/** CDSE's largest `$top`. */
export const CDSE_MAX_PAGE_SIZE = 1000;

const HOUR_MS = 3_600_000;

/** A publication window of a query small enough to page through with `$skip`, and its result count. */
export interface SearchWindow extends SearchQuery {
  from: string;
  to: string;
  count: number;
}

/** What the catalogue search needs; CdseHub checked every value. */
export interface CdseCatalogueSettings {
  catalogueUrl: string;
  pageSize: number;
  filterRules: Omit<FilterRules, "day">;
  http: HttpTuning;
  maxSkip: number;
  planTtlMs: number;
  planConcurrency: number;
  now: () => number;
}

const ENVELOPE_SCHEMA = v.object({
  value: v.array(v.unknown()),
  "@odata.count": v.pipe(v.number(), v.integer(), v.minValue(0)),
  "@odata.nextLink": v.optional(v.string()),
});

interface CataloguePage {
  entries: unknown[];
  count: number;
  nextLink?: string;
}

interface Window {
  from: number;
  to: number;
}

/**
 * CDSE's OData catalogue search and its window planning (see CdseHub for why queries are cut into
 * windows): pages, counts, and the plan cache.
 */
export class CdseCatalogue {
  readonly #settings: CdseCatalogueSettings;
  readonly #plans = new Map<string, { windows: SearchWindow[]; madeAt: number }>();

  constructor(settings: CdseCatalogueSettings) {
    this.#settings = settings;
  }

  /** See CdseHub.listSearchPage, which checked `offset`. */
  async listSearchPage(query: SearchQuery, offset: number, options: HubCallOptions): Promise<SearchPage> {
    const { maxSkip, pageSize, planTtlMs, now } = this.#settings;
    const whole = windowOf(query);
    const key = planKey(query.platform, whole);
    const cached = this.#plans.get(key);
    let windows = cached && now() - cached.madeAt <= planTtlMs ? cached.windows : undefined;
    if (windows === undefined && offset <= maxSkip) {
      // The common case, a query under the cap: one request per page, no counting.
      const page = await this.#fetchPage(query.platform, whole, offset, pageSize, options);
      if (page.count <= maxSkip) return this.#toSearchPage(query, page, offset, page.count, page.count);
    }
    windows ??= await this.planWindows(query, options);
    const total = windows.reduce((sum, window) => sum + window.count, 0);
    let before = 0;
    for (const window of windows) {
      if (offset < before + window.count) {
        const page = await this.#fetchPage(
          query.platform,
          { from: Date.parse(window.from), to: Date.parse(window.to) },
          offset - before,
          pageSize,
          options,
        );
        return this.#toSearchPage(query, page, offset, total, before + window.count);
      }
      before += window.count;
    }
    return { totalResults: total, entriesOnPage: 0, granules: [], rejected: [] };
  }

  /** See CdseHub.planWindows. */
  async planWindows(query: SearchQuery, options: HubCallOptions): Promise<SearchWindow[]> {
    const { maxSkip, planConcurrency, catalogueUrl, now } = this.#settings;
    const whole = windowOf(query);
    const count = async (window: Window) =>
      (await this.#fetchPage(query.platform, window, 0, 0, options)).count;
    const split = async (window: Window, total: number): Promise<{ window: Window; count: number }[]> => {
      if (total <= maxSkip) return [{ window, count: total }];
      if (window.to - window.from <= 1)
        throw new InvalidHubDataError(
          `${total} products of ${query.platform} published at ${new Date(window.from).toISOString()}: more than $skip can page`,
          { url: catalogueUrl },
        );
      const mid = window.from + Math.floor((window.to - window.from) / 2);
      const halves = [
        { from: window.from, to: mid },
        { from: mid, to: window.to },
      ];
      const counts = await Promise.all(halves.map(count));
      return (await Promise.all(halves.map((half, i) => split(half, counts[i]!)))).flat();
    };
    const total = await count(whole);
    let planned: { window: Window; count: number }[];
    if (total <= maxSkip) {
      planned = [{ window: whole, count: total }];
    } else {
      const hours = hourWindows(whole);
      const hourCounts = await mapLimit(hours, planConcurrency, count);
      planned = (await Promise.all(hours.map((hour, i) => split(hour, hourCounts[i]!)))).flat();
    }
    const windows = planned.map(({ window, count }) => ({
      day: query.day,
      platform: query.platform,
      from: new Date(window.from).toISOString(),
      to: new Date(window.to).toISOString(),
      count,
    }));
    this.#plans.set(planKey(query.platform, whole), { windows, madeAt: now() });
    return windows;
  }

  async #fetchPage(
    platform: Platform,
    window: Window,
    skip: number,
    top: number,
    options: HubCallOptions,
  ): Promise<CataloguePage> {
    const url = this.#searchUrl(platform, window, skip, top);
    const body = await getJson(url, { ...this.#settings.http, signal: options.signal });
    const parsed = v.safeParse(ENVELOPE_SCHEMA, body);
    if (!parsed.success)
      throw new InvalidHubDataError(`search answer: ${describeIssues(parsed.issues)}`, {
        url: this.#settings.catalogueUrl,
      });
    return {
      entries: parsed.output.value,
      count: parsed.output["@odata.count"],
      nextLink: parsed.output["@odata.nextLink"],
    };
  }

  #searchUrl(platform: Platform, window: Window, skip: number, top: number): string {
    const filter = [
      "Collection/Name eq 'SENTINEL-2'",
      `PublicationDate ge ${new Date(window.from).toISOString()}`,
      `PublicationDate lt ${new Date(window.to).toISOString()}`,
      attributeEquals("productType", "S2MSI1C"),
      attributeEquals("platformSerialIdentifier", platform.slice(2)),
    ].join(" and ");
    const params: [string, string][] = [
      ["$filter", filter],
      // Without a total order, $skip paging loses and duplicates products between pages.
      ["$orderby", "PublicationDate asc"],
      ["$top", String(top)],
      ["$skip", String(skip)],
      ["$count", "true"],
    ];
    if (top > 0) params.push(["$expand", "Attributes"]);
    const query = params.map(([name, value]) => `${name}=${encodeURIComponent(value)}`).join("&");
    return `${this.#settings.catalogueUrl}/odata/v1/Products?${query}`;
  }

  #toSearchPage(
    query: SearchQuery,
    page: CataloguePage,
    offset: number,
    totalResults: number,
    windowEnd: number,
  ): SearchPage {
    const granules: DiscoveredGranule[] = [];
    const rejected: RejectedEntry[] = [];
    page.entries.forEach((entry, i) => {
      const outcome = cdseEntryToGranule(entry, query, this.#settings.filterRules);
      if ("granule" in outcome) granules.push(outcome.granule);
      else
        rejected.push({
          id: outcome.id ?? `(entry ${offset + i})`,
          name: outcome.name,
          reason: outcome.reason,
          filter: outcome.filter ?? "invalid",
        });
    });
    const entriesOnPage = page.entries.length;
    const entryIds = page.entries.map((entry) => {
      const id = typeof entry === "object" && entry !== null ? (entry as { Id?: unknown }).Id : undefined;
      return typeof id === "string" ? id : "";
    });
    // An empty page inside a window (products withdrawn since counting) moves on to the next window.
    const next = entriesOnPage > 0 ? offset + entriesOnPage : windowEnd;
    const more = next < totalResults || (entriesOnPage > 0 && page.nextLink !== undefined);
    return {
      totalResults,
      entriesOnPage,
      granules,
      rejected,
      entryIds,
      ...(more && next > offset ? { nextOffset: next } : {}),
    };
  }
}

function attributeEquals(name: string, value: string): string {
  return (
    `Attributes/OData.CSC.StringAttribute/any(att:att/Name eq '${name}' and ` +
    `att/OData.CSC.StringAttribute/Value eq '${value}')`
  );
}

/** The query's publication window in epoch ms: [from, to), default the whole day. */
function windowOf(query: SearchQuery): Window {
  checkSearchQuery(query);
  const dayStart = Date.parse(`${query.day}T00:00:00.000Z`);
  const from = query.from === undefined ? dayStart : Date.parse(query.from);
  const to = query.to === undefined ? dayStart + DAY_MS : Date.parse(query.to);
  if (from >= to) throw new InvalidInputError("from must be before to", { field: "from" });
  return { from, to };
}

function planKey(platform: Platform, window: Window): string {
  return `${platform}|${window.from}|${window.to}`;
}

/** The window cut at whole UTC hours. */
function hourWindows(window: Window): Window[] {
  const windows: Window[] = [];
  let from = window.from;
  while (from < window.to) {
    const to = Math.min(window.to, (Math.floor(from / HOUR_MS) + 1) * HOUR_MS);
    windows.push({ from, to });
    from = to;
  }
  return windows;
}

async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  });
  await Promise.all(lanes);
  return results;
}
