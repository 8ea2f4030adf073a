import * as v from "valibot";
import { DownloaderError } from "./contract";

// Errors of bad input: settings, a malformed event, flag or option.

export interface ConfigIssue {
  key: string;
  message: string;
}

/** A setting is missing or invalid; `issues` names every bad key. */
export class ConfigError extends DownloaderError {
  static override readonly retry = "terminal";
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[], options?: ErrorOptions) {
    super(`invalid configuration: ${issues.map((i) => `${i.key}: ${i.message}`).join("; ")}`, options);
    this.name = "ConfigError";
    this.issues = issues;
  }
}

/** Input to a handler, a CLI or a core function is malformed (backfill range, event shape, option). */
export class InvalidInputError extends DownloaderError {
  static override readonly retry = "terminal";
  readonly field?: string;
  constructor(message: string, options?: ErrorOptions & { field?: string }) {
    super(message, options);
    this.name = "InvalidInputError";
    this.field = options?.field;
  }
}

/**
 * The first `limit` issues of a failed valibot parse as `path: message` (the root is "(root)"), for the
 * message of the error a boundary throws: handler input, a hub answer, a CLI flag.
 */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[], limit = 3): string {
  return issues
    .slice(0, limit)
    .map((issue) => `${v.getDotPath(issue) ?? "(root)"}: ${issue.message}`)
    .join("; ");
}
