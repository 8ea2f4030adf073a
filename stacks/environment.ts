import { type ConfigKey, camelCase, METRICS_NAMESPACE, METRICS_SERVICE } from "@hls-s2/core";
import type { StageSettingKey, StageSettings } from "./settings";

/** The tile allow-list's name inside a function's bundle (relative to its task root). */
export const BUNDLED_TILE_ALLOW_LIST = "tile-allow-list.txt";

/** A deploy setting the Lambda config reads under the same name: the stack passes it through unchanged. */
export type PassedSetting = Extract<StageSettingKey, ConfigKey>;

type Value = string | number | boolean | readonly string[] | undefined;

/**
 * A function's environment, typed by core's config keys: the deploy settings it reads (as the stage
 * resolved them), then what the stack computes (resource names, secret ids), then what every function
 * carries (Powertools' service and namespace, source maps). Unset values are left out; credentials only
 * ever appear as secret ids.
 */
export function functionEnvironment(
  settings: StageSettings,
  passed: readonly PassedSetting[],
  values: Partial<Record<ConfigKey, Value>> = {},
): Record<string, string> {
  const environment: Record<string, string> = {};
  const entries: [string, Value][] = [
    ...passed.map((key): [string, Value] => [key, settings[camelCase(key)]]),
    ...Object.entries(values),
  ];
  for (const [key, value] of entries) {
    if (value === undefined) continue;
    environment[key] = typeof value === "object" ? value.join(",") : String(value);
  }
  return {
    ...environment,
    POWERTOOLS_SERVICE_NAME: METRICS_SERVICE,
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    NODE_OPTIONS: "--enable-source-maps",
  };
}
