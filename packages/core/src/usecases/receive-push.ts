import * as v from "valibot";
import { CDSE_PRODUCT_SCHEMA, cdseProductToGranule } from "../adapters/hub/cdse/product";
import type { GranuleStore } from "../adapters/store/store";
import { DAY_MS } from "../domain/day";
import { InvalidHubDataError, InvalidInputError } from "../domain/errors";
import {
  evaluateGranule,
  type FilterRules,
  isRfc3339Timestamp,
  QUOTE_MAX_CHARS,
  quoteValue,
} from "../domain/filters";
import type { DiscoveredGranule } from "../domain/granule";

/** The subscription event the downloader asks CDSE for; others (modified, deleted) are acknowledged and ignored. */
export const PUSH_RECORDED_EVENT = "created";

/**
 * The largest push body the endpoint parses. A CDSE notification with its product's Attributes is a
 * few kB; anything near this is not one, and parsing it would only spend the function's memory.
 */
export const PUSH_MAX_BODY_BYTES = 1024 * 1024;

/** How far a pushed product's dates may lie before its publication, and after now. */
export const PUSH_DATE_WINDOW = { beforePublicationDays: 366, afterNowDays: 1 } as const;

const TIMESTAMP = v.pipe(
  v.string(),
  v.check(isRfc3339Timestamp, "is not an RFC 3339 timestamp with a time zone"),
);

/** A short identifier: bounded, so neither a log line nor a reason can carry a caller's 200 kB string. */
const SHORT_TEXT = (max: number) =>
  v.pipe(v.string(), v.minLength(1, "is empty"), v.maxLength(max, `is longer than ${max} characters`));

/**
 * A CDSE push subscription notification: the event, the product's id and name, and (for "created")
 * the product itself in `value`, shaped like a catalogue entry with its Checksum and Attributes.
 */
const NOTIFICATION_SCHEMA = v.looseObject({
  "@odata.context": v.optional(v.string()),
  SubscriptionEvent: SHORT_TEXT(64),
  ProductId: SHORT_TEXT(100),
  ProductName: v.optional(v.nullable(v.pipe(v.string(), v.maxLength(256, "is longer than 256 characters")))),
  SubscriptionId: v.optional(v.nullable(SHORT_TEXT(100))),
  NotificationDate: v.optional(v.nullable(TIMESTAMP)),
  value: v.optional(v.nullable(v.unknown())),
});

/** A validated push notification. */
export interface PushNotification {
  /** "created", "modified" or "deleted". */
  event: string;
  productId: string;
  subscriptionId?: string;
  notificationDate?: string;
  /** The product as a granule; present for "created" events. */
  granule?: DiscoveredGranule;
}

export interface ParsePushOptions {
  /** The clock the date window is judged by; default the system clock. */
  now?: () => Date;
}

export interface RecordPushOptions {
  store: Pick<GranuleStore, "recordDiscovered">;
  /** The search's filters; the day is the granule's publication day, as a search of that day would use. */
  filterRules: Omit<FilterRules, "day">;
}

export interface RecordPushResult {
  recorded: boolean;
  granuleId: string;
  /** Why nothing was recorded: another event, a filter's verdict, or already known. */
  reason?: string;
}

/**
 * Validates a CDSE push notification body and maps its product to a granule, exactly as a search page's
 * entry is mapped (same schema, same name and tile checks), and checks that its dates are RFC 3339
 * timestamps with a time zone within [publication − 1 year, now + 1 day] (see checkPushDates).
 * @throws InvalidInputError naming the malformed field; InvalidHubDataError when the product name is unsafe
 *   or the platform or tile unknown. Messages quote at most QUOTE_MAX_CHARS of an offending value.
 */
export function parsePushNotification(body: unknown, options: ParsePushOptions = {}): PushNotification {
  let { now } = options;
  now ??= () => new Date();
  const parsed = v.safeParse(NOTIFICATION_SCHEMA, body);
  if (!parsed.success) throw invalid("notification", parsed.issues);
  const { SubscriptionEvent: event, ProductId: productId, value } = parsed.output;
  const notification: PushNotification = {
    event,
    productId,
    ...(typeof parsed.output.SubscriptionId === "string" && { subscriptionId: parsed.output.SubscriptionId }),
    ...(typeof parsed.output.NotificationDate === "string" && {
      notificationDate: parsed.output.NotificationDate,
    }),
  };
  // Only a "created" event must carry the product; the others are acknowledged without reading it.
  if (event !== PUSH_RECORDED_EVENT) return notification;
  const product = v.safeParse(CDSE_PRODUCT_SCHEMA, value);
  if (!product.success) throw invalid("value", product.issues);
  if (product.output.Id !== productId) {
    throw new InvalidInputError(
      `value.Id ${quoteValue(product.output.Id)} differs from ProductId ${quoteValue(productId)}`,
      { field: "value.Id" },
    );
  }
  checkPushDates(
    {
      "value.PublicationDate": product.output.PublicationDate,
      "value.ContentDate.Start": product.output.ContentDate.Start,
      "value.ContentDate.End": product.output.ContentDate.End,
      ...(typeof notification.notificationDate === "string" && {
        NotificationDate: notification.notificationDate,
      }),
    },
    now(),
  );
  return { ...notification, granule: cdseProductToGranule(product.output) };
}

/**
 * Records a pushed granule as DISCOVERED when it passes the search's filters, with the payload's MD5
 * (the download still asks the hub for the checksum again, since ESA's first one is sometimes wrong).
 * A second push of the same product records nothing.
 * @throws InvalidInputError on a bad option or a malformed filter rule; InvalidHubDataError on a bad MD5;
 *   the store's errors (DynamoDB) unchanged, so the hub retries the delivery.
 */
export async function recordPushedGranule(
  notification: PushNotification,
  options: RecordPushOptions,
): Promise<RecordPushResult> {
  const { store, filterRules } = options;
  if (store === undefined) throw new InvalidInputError("options.store is required", { field: "store" });
  const granuleId = notification.productId;
  const { granule } = notification;
  if (notification.event !== PUSH_RECORDED_EVENT || granule === undefined) {
    return { recorded: false, granuleId, reason: `event ${notification.event} is not recorded` };
  }
  // Judged against its publication day, like the search of that day would judge it.
  const day = granule.publishedAt.slice(0, 10);
  const verdict = evaluateGranule(granule, { ...filterRules, day });
  if (!verdict.accepted) return { recorded: false, granuleId, reason: verdict.reason };
  const { recorded } = await store.recordDiscovered(granule, day);
  return recorded ? { recorded, granuleId } : { recorded, granuleId, reason: "already recorded" };
}

/**
 * A pushed product's dates: each an RFC 3339 timestamp with a time zone, the publication
 * no later than now + 1 day, every other date within [publication − 1 year, now + 1 day]. Outside it
 * the product would be recorded under a day no run ever downloads (`PublicationDate` "1" parses as
 * 2001-01-01, 9999-12-31 is a day that never comes), so it is refused, not recorded.
 */
function checkPushDates(dates: Record<string, string>, now: Date): void {
  const latest = now.getTime() + PUSH_DATE_WINDOW.afterNowDays * DAY_MS;
  const publication = Date.parse(dates["value.PublicationDate"]!);
  const earliest = publication - PUSH_DATE_WINDOW.beforePublicationDays * DAY_MS;
  for (const [field, value] of Object.entries(dates)) {
    // The catalogue schema takes anything Date.parse reads ("1" is 2001-01-01 to V8); a push must be exact.
    if (!isRfc3339Timestamp(value)) {
      throw new InvalidInputError(
        `invalid push value: ${field} ${quoteValue(value)} is not an RFC 3339 timestamp with a time zone`,
        { field },
      );
    }
    const time = Date.parse(value);
    if (time > latest) {
      throw new InvalidInputError(
        `invalid push value: ${field} ${quoteValue(value)} is more than ${PUSH_DATE_WINDOW.afterNowDays} day after now (${now.toISOString()})`,
        { field },
      );
    }
    if (time < earliest) {
      throw new InvalidInputError(
        `invalid push value: ${field} ${quoteValue(value)} is more than ${PUSH_DATE_WINDOW.beforePublicationDays} days before the publication ${quoteValue(dates["value.PublicationDate"])}`,
        { field },
      );
    }
  }
}

function invalid(what: string, issues: readonly v.BaseIssue<unknown>[]): InvalidInputError {
  const issue = issues[0];
  const path = issue === undefined ? undefined : v.getDotPath(issue);
  const field = path === null || path === undefined ? what : what === "value" ? `value.${path}` : path;
  return new InvalidInputError(
    `invalid push ${what}: ${field} ${issue === undefined ? "is invalid" : describeIssue(issue)}`,
    {
      field,
    },
  );
}

/**
 * An issue's message with the offending value cut to QUOTE_MAX_CHARS: valibot's default messages end
 * in "…received <the whole value>", which for a 200 kB string is a 200 kB problem detail and log line.
 */
function describeIssue(issue: v.BaseIssue<unknown>): string {
  const { message, received, input } = issue;
  if (!message.endsWith(received)) return message;
  // A string is quoted from its value; other types valibot names briefly (`Object`, `123`) unless long.
  const quoted =
    typeof input === "string"
      ? quoteValue(input)
      : received.length <= QUOTE_MAX_CHARS
        ? received
        : quoteValue(received);
  return `${message.slice(0, message.length - received.length)}${quoted}`;
}

/** Errors of a push body that mean "this notification is malformed" (HTTP 400), not "try again". */
export function isInvalidPush(error: unknown): boolean {
  return error instanceof InvalidInputError || error instanceof InvalidHubDataError;
}
