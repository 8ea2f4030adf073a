import { createHash, timingSafeEqual } from "node:crypto";
import type { Credentials } from "@hls-s2/core/hub";

/**
 * Compares two secrets in constant time. Both sides are hashed first: the SHA-256 digests always have
 * the same length, so `timingSafeEqual` never throws on a length mismatch and the time taken says
 * neither where the strings first differ nor how long the expected one is.
 */
export function safeEqual(presented: string, expected: string): boolean {
  const a = createHash("sha256").update(presented, "utf8").digest();
  const b = createHash("sha256").update(expected, "utf8").digest();
  return timingSafeEqual(a, b);
}

/** The username and password of an `Authorization: Basic …` header, or undefined when it is not one. */
export function parseBasicAuth(header: string | undefined): Credentials | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
  if (match?.[1] === undefined) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Whether a Basic header carries exactly the expected credentials, compared in constant time. */
export function basicAuthMatches(header: string | undefined, expected: Credentials): boolean {
  const presented = parseBasicAuth(header);
  // Both comparisons always run (no short-circuit), so the timing does not tell which half was wrong.
  const username = safeEqual(presented?.username ?? "", expected.username);
  const password = safeEqual(presented?.password ?? "", expected.password);
  return presented !== undefined && username && password;
}
