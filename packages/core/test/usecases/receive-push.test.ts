import { randomUUID } from "node:crypto";
import { useGranuleTable } from "@hls-s2/testing/dynamo";
import { describe, expect, it } from "vitest";
import { InvalidHubDataError, InvalidInputError } from "../../src/domain/errors";
import { parsePushNotification, recordPushedGranule } from "../../src/usecases/receive-push";

const TABLE = "push-test";
const RULES = { maxAcquisitionAgeDays: 30 };

const { store } = useGranuleTable(TABLE);

let sequence = 0;

/** The clock the date checks are judged by in these tests. */
const NOW = new Date("2026-06-15T12:00:00.000Z");
const AT_NOW = { now: () => NOW };
const DAY_MS = 86_400_000;

/** A "created" notification as CDSE pushes it, for a fresh product published on a day of its own (before NOW). */
function aNotification(
  product: { name?: string; tileId?: string; md5?: string | null; platform?: string } = {},
): Record<string, unknown> {
  sequence += 1;
  const id = randomUUID();
  const day = new Date(NOW.getTime() - 300 * DAY_MS + sequence * DAY_MS).toISOString().slice(0, 10);
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

    const notification = parsePushNotification(body, AT_NOW);

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
    expect(parsePushNotification(aNotification({ md5: null }), AT_NOW).granule?.md5).toBeUndefined();
  });

  it("names the missing field of a malformed notification", () => {
    const body = aNotification();
    delete (body.value as Record<string, unknown>).ContentLength;

    expect(() => parsePushNotification(body, AT_NOW)).toThrow(
      expect.objectContaining({ name: "InvalidInputError", field: "value.ContentLength" }),
    );
    expect(() => parsePushNotification("not json")).toThrow(InvalidInputError);
    expect(() => parsePushNotification({ ...aNotification(), ProductId: 7 })).toThrow(
      expect.objectContaining({ field: "ProductId" }),
    );
  });

  it("refuses a product whose id differs from the notification's ProductId", () => {
    const body = { ...aNotification(), ProductId: randomUUID() };

    expect(() => parsePushNotification(body, AT_NOW)).toThrow(expect.objectContaining({ field: "value.Id" }));
  });

  it("refuses a product name that could escape the object key", () => {
    const body = aNotification({ name: "../../S2B_MSIL1C_evil.SAFE" });

    expect(() => parsePushNotification(body, AT_NOW)).toThrow(InvalidHubDataError);
  });

  it("quotes at most about 100 characters of a 200 kB offending value", () => {
    const huge = "x".repeat(200_000);
    const quoted = `"${"x".repeat(100)}…" (200000 characters)`;
    const withValue = (field: string, value: unknown) => {
      const body = aNotification();
      return { ...body, value: { ...(body.value as object), [field]: value } };
    };
    const attributes = (platform: string, tileId: string) => [
      { Name: "platformSerialIdentifier", Value: platform },
      { Name: "tileId", Value: tileId },
    ];
    // [what, body, whether the message quotes the value (else it names the rule only)]
    const cases: [string, unknown, boolean][] = [
      ["ContentLength", withValue("ContentLength", huge), true],
      ["Name", withValue("Name", huge), true],
      ["tile id", withValue("Attributes", attributes("A", huge)), true],
      ["platform", withValue("Attributes", attributes(huge, "32TQM")), false],
      ["PublicationDate", withValue("PublicationDate", huge), false],
      ["value.Id", withValue("Id", huge), false],
      ["ProductId", { ...aNotification(), ProductId: huge }, false],
      ["SubscriptionEvent", { SubscriptionEvent: huge, ProductId: "abc" }, false],
    ];

    for (const [what, body, quotes] of cases) {
      let thrown: unknown;
      try {
        parsePushNotification(body, AT_NOW);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, what).toBeInstanceOf(Error);
      const message = (thrown as Error).message;
      expect(message.length, `${what}: ${message.slice(0, 300)}`).toBeLessThan(300);
      if (quotes) expect(message, what).toContain(quoted);
    }
  });

  it("refuses a PublicationDate that is not an RFC 3339 timestamp with a time zone, naming it", () => {
    for (const bad of [
      "1",
      "9999-12-31",
      "2026-06-01T10:00:00",
      "2026-02-30T10:00:00Z",
      "June 1, 2026 UTC",
    ]) {
      const body = aNotification();
      (body.value as Record<string, unknown>).PublicationDate = bad;

      expect(() => parsePushNotification(body, AT_NOW), bad).toThrow(
        expect.objectContaining({
          name: "InvalidInputError",
          field: "value.PublicationDate",
          message: expect.stringContaining("RFC 3339"),
        }),
      );
    }
  });

  it("refuses dates after now + 1 day or more than a year before the publication", () => {
    const cases: [string, (value: Record<string, unknown>, body: Record<string, unknown>) => void][] = [
      ["value.PublicationDate", (value) => (value.PublicationDate = "9999-12-31T00:00:00Z")],
      ["value.PublicationDate", (value) => (value.PublicationDate = "2026-06-16T12:00:01Z")],
      [
        "value.ContentDate.Start",
        (value) => (value.ContentDate = { Start: "2020-01-01T00:00:00Z", End: "2020-01-01T00:00:00Z" }),
      ],
      ["NotificationDate", (_value, body) => (body.NotificationDate = "2030-01-01T00:00:00Z")],
    ];
    for (const [field, change] of cases) {
      const body = aNotification();
      change(body.value as Record<string, unknown>, body);

      expect(() => parsePushNotification(body, AT_NOW), field).toThrow(
        expect.objectContaining({ name: "InvalidInputError", field }),
      );
    }
  });

  it("accepts dates with a numeric offset or lower-case separators inside the window", () => {
    const body = aNotification();
    const value = body.value as Record<string, unknown>;
    value.PublicationDate = "2026-06-16T13:59:59+02:00"; // 11:59:59Z, within now + 1 day
    value.ContentDate = { Start: "2025-06-20t10:14:19.024z", End: "2025-06-20T10:14:19Z" };

    expect(parsePushNotification(body, AT_NOW).granule?.publishedAt).toBe("2026-06-16T11:59:59.000Z");
  });

  it("accepts an event other than created without reading its product", () => {
    const notification = parsePushNotification({ SubscriptionEvent: "deleted", ProductId: "abc" }, AT_NOW);

    expect(notification).toEqual({ event: "deleted", productId: "abc" });
  });
});

describe("recordPushedGranule", () => {
  it("records the pushed granule as DISCOVERED on its publication day with the payload's checksum", async () => {
    const notification = parsePushNotification(aNotification(), AT_NOW);
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
    const notification = parsePushNotification(aNotification(), AT_NOW);
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
    const notification = parsePushNotification(aNotification({ tileId: "33UUP" }), AT_NOW);

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
    const s2c = parsePushNotification(aNotification({ platform: "C" }), AT_NOW);

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
    const notification = parsePushNotification(aNotification(), AT_NOW);

    await expect(
      recordPushedGranule(notification, { filterRules: RULES } as unknown as Parameters<
        typeof recordPushedGranule
      >[1]),
    ).rejects.toMatchObject({ name: "InvalidInputError", field: "store" });
  });
});
