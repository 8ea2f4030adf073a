import { randomUUID } from "node:crypto";

/** What a test chooses of a pushed product; the rest is a valid fresh L1C product of its own. */
export interface PushedProduct {
  /** When CDSE published it; one second into today (UTC) unless told. */
  publishedAt?: Date;
  /** When CDSE sent the notification; without it the notification carries no envelope beyond the product. */
  notifiedAt?: Date;
  /** The platform serial identifier, "A" unless told. */
  platform?: string;
  tileId?: string;
  /** The processing level in the product name, "L1C" unless told. */
  level?: string;
}

let sequence = 0;

/** A "created" notification as CDSE pushes it to the receive-push endpoint, for a fresh product. */
export function aPushNotification(product: PushedProduct = {}) {
  sequence += 1;
  const id = randomUUID();
  const today = new Date().toISOString().slice(0, 10);
  const publishedAt = product.publishedAt ?? new Date(`${today}T00:00:01.000Z`);
  const day = publishedAt.toISOString().slice(0, 10);
  const compact = `${day.replace(/-/g, "")}T${String(100000 + sequence).slice(-6)}`;
  const tileId = product.tileId ?? "32TQM";
  const platform = product.platform ?? "A";
  const name = `S2${platform}_MSI${product.level ?? "L1C"}_${compact}_N0511_R108_T${tileId}_${compact}.SAFE`;
  return {
    ...(product.notifiedAt !== undefined && { "@odata.context": "$metadata#Notification/$entity" }),
    SubscriptionEvent: "created",
    ProductId: id,
    ProductName: name,
    ...(product.notifiedAt !== undefined && {
      SubscriptionId: randomUUID(),
      NotificationDate: product.notifiedAt.toISOString(),
    }),
    value: {
      Id: id,
      Name: name,
      ContentLength: 812_345_678,
      PublicationDate: publishedAt.toISOString(),
      ContentDate: { Start: `${day}T00:00:00.000Z`, End: `${day}T00:00:00.000Z` },
      Checksum: [{ Value: "AABBCCDDEEFF00112233445566778899", Algorithm: "MD5" }],
      Attributes: [
        { Name: "platformSerialIdentifier", Value: platform },
        { Name: "tileId", Value: tileId },
      ],
    },
  };
}
