import { afterEach, describe, expect, it } from "vitest";
import type { MockHub } from "../src/index";
import { DAY, dhusGet, dhusSearchUrl, smallCatalogue, startHub } from "./helpers/hub";

let hub: MockHub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

interface Listed {
  total: number;
  ids: string[];
  times: string[];
}

/** One DHuS page, oldest first. */
async function dhusPage(h: MockHub, start: number, rows: number): Promise<Listed> {
  const { feed } = (await (
    await dhusGet(dhusSearchUrl(h, { start, rows, order: "ingestiondate asc" }))
  ).json()) as {
    feed: { "opensearch:totalResults": string; entry?: unknown };
  };
  const raw = feed.entry === undefined ? [] : Array.isArray(feed.entry) ? feed.entry : [feed.entry];
  const entries = raw as { id: string; date: { name: string; content: string }[] }[];
  return {
    total: Number(feed["opensearch:totalResults"]),
    ids: entries.map((e) => e.id),
    times: entries.map((e) => e.date.find((d) => d.name === "ingestiondate")?.content ?? ""),
  };
}

/** One CDSE OData page, oldest first. */
async function cdsePage(h: MockHub, skip: number, top: number): Promise<Listed> {
  const query = new URLSearchParams({
    $filter: `Collection/Name eq 'SENTINEL-2' and PublicationDate ge ${DAY}T00:00:00.000Z and PublicationDate lt ${DAY}T23:59:59.999Z`,
    $orderby: "PublicationDate asc",
    $count: "true",
    $top: String(top),
    $skip: String(skip),
  });
  const body = (await (await fetch(`${h.url}/odata/v1/Products?${query}`)).json()) as {
    "@odata.count": number;
    value: { Id: string; PublicationDate: string }[];
  };
  return {
    total: body["@odata.count"],
    ids: body.value.map((p) => p.Id),
    times: body.value.map((p) => p.PublicationDate),
  };
}

const APIS = [
  ["DHuS", dhusPage],
  ["CDSE", cdsePage],
] as const;

describe.each(APIS)("paging faults on the %s search", (_api, page) => {
  it("ingests the newest products while the day is paged: they appear at the end after N requests", async () => {
    hub = await startHub({ catalogue: smallCatalogue({ granulesPerDay: 7 }) });
    const all = hub.catalogue.products.map((p) => p.id);
    hub.setFaults({ paging: { ingest: { afterRequests: 1, count: 2 } } });

    const first = await page(hub, 0, 3);
    const second = await page(hub, 3, 10);

    expect(first).toMatchObject({ total: 5, ids: all.slice(0, 3) });
    expect(second).toMatchObject({ total: 7, ids: all.slice(3) });
    expect(hub.pagingFaults()).toMatchObject({ requests: 2, hidden: 1 });
  });

  it("withdraws a product between two pages: every later offset shifts and naive paging skips one", async () => {
    hub = await startHub({ catalogue: smallCatalogue({ granulesPerDay: 7 }) });
    const all = hub.catalogue.products.map((p) => p.id);
    hub.setFaults({ paging: { withdraw: { afterRequests: 1, at: 1 } } });

    const first = await page(hub, 0, 3);
    const second = await page(hub, 3, 10);

    expect(first).toMatchObject({ total: 7, ids: all.slice(0, 3) });
    // all[3] moved to offset 2, which the first page already passed.
    expect(second).toMatchObject({ total: 6, ids: all.slice(4) });
    expect(hub.pagingFaults()).toMatchObject({ withdrawn: 1 });
    const stats = (await (await fetch(`${hub.url}/__mock/stats`)).json()) as { paging: unknown };
    expect(stats.paging).toMatchObject({ requests: 2, withdrawn: 1 });
  });

  it("ties the publication times across a page boundary", async () => {
    hub = await startHub({ catalogue: smallCatalogue({ granulesPerDay: 7 }) });
    hub.setFaults({ paging: { tie: { offset: 3, size: 2 } } });

    const whole = await page(hub, 0, 10);

    expect(whole.times[2]).toBe(whole.times[3]);
    expect(whole.times[1]).not.toBe(whole.times[2]);
    expect(hub.pagingFaults()).toMatchObject({ tied: 1 });
  });
});

describe("a tie across a page boundary", () => {
  it("comes back in another order on DHuS, which documents no tie-breaker, so naive paging repeats one and skips one", async () => {
    hub = await startHub({ catalogue: smallCatalogue({ granulesPerDay: 7 }) });
    hub.setFaults({ paging: { tie: { offset: 3, size: 2 } } });

    const first = await dhusPage(hub, 0, 3);
    const second = await dhusPage(hub, 3, 10);

    expect(second.ids[0]).toBe(first.ids[2]);
    expect(new Set([...first.ids, ...second.ids]).size).toBe(6);
  });

  it("keeps its order on CDSE, which orders equal times by id", async () => {
    hub = await startHub({ catalogue: smallCatalogue({ granulesPerDay: 7 }) });
    hub.setFaults({ paging: { tie: { offset: 3, size: 2 } } });

    const first = await cdsePage(hub, 0, 3);
    const second = await cdsePage(hub, 3, 10);

    expect(new Set([...first.ids, ...second.ids]).size).toBe(7);
  });
});
