import { InvalidInputError } from "../../domain/errors";

/**
 * A hub's base URL as every client splices paths onto it: http(s) only, no credentials (they come
 * from the secret; one in a URL would end up in logs), no query, no trailing slash.
 * @throws InvalidInputError naming `field`.
 */
export function hubBaseUrl(url: string, field: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new InvalidInputError(`${field} is not a URL`, { field, cause: error });
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new InvalidInputError(`${field} must be http(s), got ${parsed.protocol}`, { field });
  }
  if (parsed.username !== "" || parsed.password !== "") {
    throw new InvalidInputError(`${field} must not carry credentials`, { field });
  }
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}`;
}

/** The URL without userinfo, safe to put in a message or a log line. */
export function redactUrl(url: string | URL): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    return parsed.toString();
  } catch {
    return "<unparseable url>";
  }
}
