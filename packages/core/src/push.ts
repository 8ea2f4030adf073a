import * as v from "valibot";
import { InvalidHubDataError, InvalidInputError } from "./errors";
import { evaluateGranule, type FilterRules } from "./filters";
import type { DiscoveredGranule } from "./granule";
import { CDSE_PRODUCT_SCHEMA, cdseProductToGranule } from "./hub/cdse";
import type { GranuleStore } from "./store";

/** The subscription event the downloader asks CDSE for; others (modified, deleted) are acknowledged and ignored. */
export const PUSH_RECORDED_EVENT = "created";

const TIMESTAMP = v.pipe(
  v.string(),
  v.check((value) => !Number.isNaN(Date.parse(value)), "is not a timestamp"),
);

/**
 * A CDSE push subscription notification: the event, the product's id and name, and (for "created")
 * the product itself in `value`, shaped like a catalogue entry with its Checksum and Attributes.
 */
const NOTIFICATION_SCHEMA = v.looseObject({
  "@odata.context": v.optional(v.string()),
  SubscriptionEvent: v.pipe(v.string(), v.minLength(1, "is empty")),
  ProductId: v.pipe(v.string(), v.minLength(1, "is empty")),
  ProductName: v.optional(v.nullable(v.string())),
  SubscriptionId: v.optional(v.nullable(v.string())),
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
 * entry is mapped (same schema, same name and tile checks).
 * @throws InvalidInputError naming the malformed field; InvalidHubDataError when the product name is unsafe
 *   or the platform or tile unknown.
 */
export function parsePushNotification(body: unknown): PushNotification {
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
    throw new InvalidInputError(`value.Id ${product.output.Id} differs from ProductId ${productId}`, {
      field: "value.Id",
    });
  }
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
  if (filterRules === undefined)
    throw new InvalidInputError("options.filterRules is required", { field: "filterRules" });
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

function invalid(what: string, issues: readonly v.BaseIssue<unknown>[]): InvalidInputError {
  const issue = issues[0];
  const path = issue === undefined ? undefined : v.getDotPath(issue);
  const field = path === null || path === undefined ? what : what === "value" ? `value.${path}` : path;
  // Name the field and the rule only: the body is the hub's, but echoing it would bloat the log.
  return new InvalidInputError(`invalid push ${what}: ${field} ${issue?.message ?? "is invalid"}`, {
    field,
  });
}

/** Errors of a push body that mean "this notification is malformed" (HTTP 400), not "try again". */
export function isInvalidPush(error: unknown): boolean {
  return error instanceof InvalidInputError || error instanceof InvalidHubDataError;
}
