import * as v from "valibot";
import { isPlatform, PLATFORMS, type Platform } from "../domain/granule";

/**
 * The field parsers of both configuration schemas (the Lambda config in runtime.ts, the deploy settings in
 * stacks/settings.ts): each reads one environment string, so a value means the same on both sides.
 */

/** `true`, `false`, `1` or `0`, any case. */
export const flagField = v.pipe(
  v.string(),
  v.transform((value) => value.toLowerCase()),
  v.picklist(["true", "false", "1", "0"], "must be true, false, 1 or 0"),
  v.transform((value) => value === "true" || value === "1"),
);

/** A whole number within [min, max]. */
export function integerField(min: number, max: number) {
  return v.pipe(
    v.string(),
    v.regex(/^-?\d+$/, "must be an integer"),
    v.transform(Number),
    v.minValue(min, `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  );
}

/** An http(s) base URL, without its trailing slashes. */
export const httpUrlField = v.pipe(
  v.string(),
  v.check(
    (value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol),
    "must be an http(s) URL",
  ),
  // Hub clients append paths to a base URL, so a trailing slash would double up.
  v.transform((value) => value.replace(/\/+$/, "")),
);

/** The items of a comma-separated list, trimmed, blanks dropped. */
export function splitList(value: string): string[] {
  return value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

/** A comma-separated list of Sentinel-2 platforms, duplicates dropped. */
export const platformsField = v.pipe(
  v.string(),
  v.transform(splitList),
  v.check((list) => list.length > 0, "must name at least one platform"),
  v.check(
    (list) => list.every(isPlatform),
    `must be a comma-separated list of Sentinel-2 platforms (${PLATFORMS.join(", ")}, … S2[A-Z])`,
  ),
  v.transform((list) => [...new Set(list)] as Platform[]),
);

/** An AWS region name (`us-west-2`). */
export const awsRegionField = v.pipe(
  v.string(),
  v.regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must be an AWS region like us-west-2"),
);

/** An optional field whose default is written as the value it parses (`16` for "16"). */
export function withDefault<const Schema extends v.GenericSchema<string, unknown>>(
  schema: Schema,
  fallback: number | boolean | string,
) {
  return v.optional(schema, String(fallback));
}

/** `BUCKET_NAME` → `bucketName`: how a schema's environment key names its typed field. */
export type CamelCase<Key extends string> = Key extends `${infer Head}_${infer Tail}`
  ? `${Lowercase<Head>}${Capitalize<CamelCase<Tail>>}`
  : Lowercase<Key>;

/** An environment-keyed record as typed fields; unset optional fields stay absent. */
export type CamelFields<Env> = {
  [Key in keyof Env as Key extends string ? CamelCase<Key> : never]: Env[Key];
};

/** The typed field an environment key names (`BUCKET_NAME` → `bucketName`). */
export function camelCase<const Key extends string>(key: Key): CamelCase<Key> {
  return key
    .toLowerCase()
    .replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase()) as CamelCase<Key>;
}

/** Renames each parsed key to its field (`BUCKET_NAME` → `bucketName`), leaving out undefined values. */
export function camelFields<Env extends Record<string, unknown>>(env: Env): CamelFields<Env> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    fields[camelCase(key)] = value;
  }
  return fields as CamelFields<Env>;
}

/**
 * Parses an environment with an environment-keyed schema: blank values count as unset, and each invalid
 * key is reported once (its first problem), an absent required one as "is required".
 */
export function parseEnvironment<const Schema extends v.ObjectSchema<v.ObjectEntries, undefined>>(
  schema: Schema,
  env: Readonly<Record<string, string | undefined>>,
):
  | { success: true; input: Record<string, string>; output: v.InferOutput<Schema> }
  | { success: false; input: Record<string, string>; issues: { key: string; message: string }[] } {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.entries)) {
    const value = env[key]?.trim();
    if (value !== undefined && value !== "") input[key] = value;
  }
  const result = v.safeParse(schema, input, { abortPipeEarly: true });
  if (result.success) return { success: true, input, output: result.output };
  const issues: { key: string; message: string }[] = [];
  for (const issue of result.issues) {
    const key = String(issue.path?.[0]?.key ?? "environment");
    // valibot reports an absent key against the object; say it the way an operator reads it.
    const message = key in input ? issue.message : "is required";
    // One message per key: the first problem is the one to fix.
    if (!issues.some((known) => known.key === key)) issues.push({ key, message });
  }
  return { success: false, input, issues };
}
