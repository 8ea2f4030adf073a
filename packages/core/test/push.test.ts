import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidHubDataError, InvalidInputError } from "../src/errors";
import { parsePushNotification, recordPushedGranule } from "../src/push";
import { GranuleStore } from "../src/store";
import { createGranuleTable, type LocalDynamo, startLocalDynamo } from "./helpers/dynamo";

const TABLE = "push-test";
const RULES = { maxAcquisitionAgeDays: 30 };

let dynamo: LocalDynamo;
let store: GranuleStore;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  await createGranuleTable(dynamo.client, TABLE);
  store = new GranuleStore(dynamo.documentClient, { tableName: TABLE });
});
afterAll(() => dynamo.close());

let sequence = 0;

/** A "created" notification as CDSE pushes it, for a fresh product published on a day of its own. */
function aNotification(
  product: { name?: string; tileId?: string; md5?: string | null; platform?: string } = {},
): Record<string, unknown> {
  sequence += 1;
  const id = randomUUID();
  const day = new Date(Date.UTC(2032, 0, 1) + sequence * 86_400_000).toISOString().slice(0, 10);
  const compactDay = day.replace(/-/g, "");
  const tileId = product.tileId ?? "32TQM";
  const name =
    product.name ?? `S2B_MSIL1C_${compactDay}T101419_N0510_R022_T${tileId}_${compactDay}T105935.SAFE`;
  return {
    "@odata.context": "$metadata#Notification/$entity",
    SubscriptionEvent: "created",
    ProductId: id,
    ProductName: name,
    SubscriptionId: randomUUID(),
    NotificationDate: `${day}T12:00:05.000Z`,
    value: {
      "@odata.mediaContentType": "application/octet-stream",
      Id: id,
      Name: name,
      ContentLength: 600_000_000,
      PublicationDate: `${day}T12:00:00.000Z`,
      ContentDate: { Start: `${day}T10:14:19.024Z`, End: `${day}T10:14:19.024Z` },
      Checksum:
        product.md5 === null
          ? []
          : [{ Value: product.md5 ?? "0123456789ABCDEF0123456789ABCDEF", Algorithm: "MD5" }],
      Attributes: [
        { Name: "productType", Value: "S2MSI1C" },
        { Name: "platformSerialIdentifier", Value: product.platform ?? "B" },
        { Name: "tileId", Value: tileId },
      ],
    },
  };
}

describe("parsePushNotification", () => {
  it("maps a created notification's product to a granule with its lowercase MD5", () => {
    const body = aNotification();
    const value = body.value as { Id: string; Name: string; PublicationDate: string };

    const notification = parsePushNotification(body);

    expect(notification).toMatchObject({ event: "created", productId: value.Id });
    expect(notification.granule).toEqual({
      granuleId: value.Id,
      name: value.Name.replace(/\.SAFE$/, ""),
      tileId: "32TQM",
      platform: "S2B",
      sensingStart: expect.stringMatching(/T10:14:19\.024Z$/),
      sensingEnd: expect.stringMatching(/T10:14:19\.024Z$/),
      publishedAt: value.PublicationDate,
      sizeBytes: 600_000_000,
      md5: "0123456789abcdef0123456789abcdef",
    });
  });

  it("leaves the MD5 out when CDSE has not published it yet", () => {
    expect(parsePushNotification(aNotification({ md5: null })).granule?.md5).toBeUndefined();
  });

  it("names the missing field of a malformed notification", () => {
    const body = aNotification();
    delete (body.value as Record<string, unknown>).ContentLength;

    expect(() => parsePushNotification(body)).toThrow(
      expect.objectContaining({ name: "InvalidInputError", field: "value.ContentLength" }),
    );
    expect(() => parsePushNotification("not json")).toThrow(InvalidInputError);
    expect(() => parsePushNotification({ ...aNotification(), ProductId: 7 })).toThrow(
      expect.objectContaining({ field: "ProductId" }),
    );
  });

  it("refuses a product whose id differs from the notification's ProductId", () => {
    const body = { ...aNotification(), ProductId: randomUUID() };

    expect(() => parsePushNotification(body)).toThrow(expect.objectContaining({ field: "value.Id" }));
  });

  it("refuses a product name that could escape the object key", () => {
    const body = aNotification({ name: "../../S2B_MSIL1C_evil.SAFE" });

    expect(() => parsePushNotification(body)).toThrow(InvalidHubDataError);
  });

  it("accepts an event other than created without reading its product", () => {
    const notification = parsePushNotification({ SubscriptionEvent: "deleted", ProductId: "abc" });

    expect(notification).toEqual({ event: "deleted", productId: "abc" });
  });
});

describe("recordPushedGranule", () => {
  it("records the pushed granule as DISCOVERED on its publication day with the payload's checksum", async () => {
    const notification = parsePushNotification(aNotification());
    const granule = notification.granule!;

    const result = await recordPushedGranule(notification, { store, filterRules: RULES });

    expect(result).toEqual({ recorded: true, granuleId: granule.granuleId });
    expect(await store.getGranule(granule.granuleId)).toMatchObject({
      status: "DISCOVERED",
      day: granule.publishedAt.slice(0, 10),
      checksum: { algorithm: "MD5", value: "0123456789abcdef0123456789abcdef" },
    });
  });

  it("records nothing new when the same product is pushed twice", async () => {
    const notification = parsePushNotification(aNotification());
    await recordPushedGranule(notification, { store, filterRules: RULES });
    const first = await store.getGranule(notification.productId);

    const second = await recordPushedGranule(notification, { store, filterRules: RULES });

    expect(second).toEqual({
      recorded: false,
      granuleId: notification.productId,
      reason: "already recorded",
    });
    expect(await store.getGranule(notification.productId)).toEqual(first);
  });

  it("records nothing for a tile outside the allow-list", async () => {
    const notification = parsePushNotification(aNotification({ tileId: "33UUP" }));

    const result = await recordPushedGranule(notification, {
      store,
      filterRules: { ...RULES, tiles: new Set(["32TQM"]) },
    });

    expect(result).toMatchObject({ recorded: false, reason: expect.stringContaining("33UUP") });
    expect(await store.getGranule(notification.productId)).toBeUndefined();
  });

  it("records nothing for a Level-2A product or a disabled platform", async () => {
    const l2a = parsePushNotification(
      aNotification({ name: "S2B_MSIL2A_20320101T101419_N0510_R022_T32TQM_20320101T105935.SAFE" }),
    );
    const s2c = parsePushNotification(aNotification({ platform: "C" }));

    const filterRules = { ...RULES, platforms: ["S2A" as const, "S2B" as const] };
    const results = [
      await recordPushedGranule(l2a, { store, filterRules }),
      await recordPushedGranule(s2c, { store, filterRules }),
    ];

    expect(results.map((r) => r.recorded)).toEqual([false, false]);
    expect(results[0]!.reason).toMatch(/Level-1C/);
    expect(results[1]!.reason).toMatch(/S2C/);
    expect(await store.getGranule(l2a.productId)).toBeUndefined();
  });

  it("acknowledges a non-created event without writing", async () => {
    const result = await recordPushedGranule(
      { event: "deleted", productId: "gone-product" },
      { store, filterRules: RULES },
    );

    expect(result).toEqual({
      recorded: false,
      granuleId: "gone-product",
      reason: "event deleted is not recorded",
    });
    expect(await store.getGranule("gone-product")).toBeUndefined();
  });

  it("rejects a missing store up front", async () => {
    const notification = parsePushNotification(aNotification());

    await expect(
      recordPushedGranule(notification, { filterRules: RULES } as unknown as Parameters<
        typeof recordPushedGranule
      >[1]),
    ).rejects.toMatchObject({ name: "InvalidInputError", field: "store" });
  });
});
