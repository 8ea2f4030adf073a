import {
  type ConfigKey,
  camelCase,
  FUNCTION_CONFIG,
  type FunctionConfigKey,
  type FunctionName,
} from "@hls-s2/core/config";
import { METRICS_NAMESPACE, METRICS_SERVICE } from "@hls-s2/core/domain";
import { ConfigError } from "@hls-s2/core/errors";
import type { StageSettings } from "./settings";

/** The tile allow-list's name inside a function's bundle (relative to its task root). */
export const BUNDLED_TILE_ALLOW_LIST = "tile-allow-list.txt";

type Value = string | number | boolean | readonly string[] | undefined;

/** What the stack computes for a function's environment, by key. */
export type EnvironmentValues<Name extends FunctionName> = Partial<Record<FunctionConfigKey<Name>, Value>>;

/**
 * A function's environment: exactly the keys core's FUNCTION_CONFIG gives it, each from `values` (what
 * the stack computes: resource names, secret ids) when listed there, else from the deploy setting of the
 * same name; then its FUNCTION_NAME and what every function carries (Powertools' service and namespace,
 * source maps). Unset values are left out; credentials only ever appear as secret ids.
 * @throws ConfigError at synth when a key the function requires has no value.
 */
export function functionEnvironment<const Name extends FunctionName>(
  settings: StageSettings,
  name: Name,
  values: EnvironmentValues<Name> = {},
): Record<string, string> {
  const { keys, requires } = FUNCTION_CONFIG[name];
  const given: Partial<Record<ConfigKey, Value>> = values;
  const fromSettings = settings as unknown as Partial<Record<string, Value>>;
  const environment: Record<string, string> = {};
  for (const key of keys) {
    const value = key in given ? given[key] : fromSettings[camelCase(key)];
    if (value === undefined) continue;
    environment[key] = typeof value === "object" ? value.join(",") : String(value);
  }
  const missing = requires.filter((key: ConfigKey) => environment[key] === undefined);
  if (missing.length > 0) {
    throw new ConfigError(missing.map((key) => ({ key, message: `is required by ${name}` })));
  }
  return {
    ...environment,
    FUNCTION_NAME: name,
    POWERTOOLS_SERVICE_NAME: METRICS_SERVICE,
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    NODE_OPTIONS: "--enable-source-maps",
  };
}
