import { isValidDay } from "@hls-s2/core/domain";
import { describeIssues, InvalidInputError } from "@hls-s2/core/errors";
import * as v from "valibot";

/** A `YYYY-MM-DD` day on the calendar: core trusts the days a handler hands it. */
export const DAY = v.pipe(v.string(), v.check(isValidDay, "must be a YYYY-MM-DD date"));

/** Validates a handler's event, naming the first bad field (and the first issues) in an InvalidInputError. */
export function parseInput<const Schema extends v.GenericSchema>(
  schema: Schema,
  event: unknown,
): v.InferOutput<Schema> {
  const result = v.safeParse(schema, event);
  if (result.success) return result.output;
  const field = v.getDotPath(result.issues[0]) ?? "event";
  throw new InvalidInputError(`invalid input: ${describeIssues(result.issues)}`, { field });
}
