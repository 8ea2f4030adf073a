import type { BeforeRedirectHook } from "got";

/** A hub account: DHuS Basic auth, CDSE Keycloak password grant. */
export interface Credentials {
  username: string;
  password: string;
}

/**
 * Supplies the auth headers of one request. Called once per attempt, so a bearer-token provider
 * (CDSE) can hand out a refreshed token on a retry; Basic auth just returns a constant.
 */
export type Authorizer = () => Promise<Record<string, string>> | Record<string, string>;

/** Basic auth headers for a hub account. */
export function basicAuth(credentials: Credentials): Authorizer {
  const token = Buffer.from(`${credentials.username}:${credentials.password}`, "utf8").toString("base64");
  const headers = { authorization: `Basic ${token}` };
  return () => headers;
}

/** The headers `authorize` gives one request, names in lower case. */
export async function resolveAuth(authorize: Authorizer | undefined): Promise<Record<string, string>> {
  if (authorize === undefined) return {};
  const headers = await authorize();
  // got keys headers in lower case; the redirect hook must find the names it set.
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

/**
 * got drops Authorization on a redirect to another host (and keeps it on same host even from https to
 * http). Hubs redirect downloads to their own download hosts, so the headers go along deliberately:
 * to the same origin and to configured hosts, never over a downgrade to plain http.
 */
export function carryAuthOnTrustedRedirect(
  url: string,
  auth: Record<string, string>,
  trustedHosts: readonly string[] = [],
): BeforeRedirectHook {
  const origin = new URL(url);
  return (updatedOptions) => {
    const target = new URL(String(updatedOptions.url));
    const downgrade = origin.protocol === "https:" && target.protocol !== "https:";
    const trusted =
      !downgrade && (target.host === origin.host || trustedHosts.includes(target.hostname.toLowerCase()));
    for (const [name, value] of Object.entries(auth)) {
      if (trusted) updatedOptions.headers[name] = value;
      else delete updatedOptions.headers[name];
    }
  };
}
