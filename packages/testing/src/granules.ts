import { randomUUID } from "node:crypto";
import type { DiscoveredGranule } from "@hls-s2/core/domain";
import type { MockProduct } from "@hls-s2/mock-hub";

let sequence = 0;

function compact(iso: string): string {
  // 2024-01-01T10:14:19.024Z → 20240101T101419, the timestamp form inside product names.
  return iso.replace(/[-:]/g, "").slice(0, 15);
}

/**
 * A discovered granule with a fresh id and a valid Sentinel-2 L1C name built from its own
 * platform, tile and sensing time (override any field; pass `name` to break the convention on purpose).
 */
export function aDiscoveredGranule(overrides: Partial<DiscoveredGranule> = {}): DiscoveredGranule {
  sequence += 1;
  const platform = overrides.platform ?? "S2B";
  const tileId = overrides.tileId ?? "32TQM";
  const sensingStart = overrides.sensingStart ?? "2024-01-01T10:14:19.024Z";
  const publishedAt = overrides.publishedAt ?? "2024-01-01T12:00:00.000Z";
  // A distinct product discriminator per call keeps names (and so S3 keys) unique across tests.
  const discriminator = compact(new Date(Date.parse(publishedAt) + sequence * 1000).toISOString());
  const tile = tileId.startsWith("T") ? tileId : `T${tileId}`;
  return {
    granuleId: randomUUID(),
    name: `${platform}_MSIL1C_${compact(sensingStart)}_N0510_R022_${tile}_${discriminator}`,
    tileId,
    platform,
    sensingStart,
    sensingEnd: sensingStart,
    publishedAt,
    sizeBytes: 693_047_101,
    ...overrides,
  };
}

let dayOffset = 0;

/**
 * A publication day no other test in this process uses, so index queries see only this test's granules:
 * the days after `after` (2030-01-01 unless told), one further per call.
 */
export function aUniqueDay(after = "2030-01-01"): string {
  dayOffset += 1;
  return new Date(Date.parse(`${after}T00:00:00.000Z`) + dayOffset * 86_400_000).toISOString().slice(0, 10);
}

/** A discovered granule published at noon of a day of its own, with that day. */
export function aGranuleOfItsOwnDay(overrides: Partial<DiscoveredGranule> = {}): {
  granule: DiscoveredGranule;
  day: string;
} {
  const day = aUniqueDay();
  return { day, granule: aDiscoveredGranule({ publishedAt: `${day}T12:00:00.000Z`, ...overrides }) };
}

/** The granule a hub search would discover for a mock hub's product. */
export function discoveredGranuleOf(product: MockProduct): DiscoveredGranule {
  return {
    granuleId: product.id,
    name: product.name,
    tileId: product.tileId,
    platform: product.platform,
    sensingStart: product.sensingStart,
    sensingEnd: product.sensingEnd,
    publishedAt: product.publishedAt,
    sizeBytes: product.sizeBytes,
  };
}
