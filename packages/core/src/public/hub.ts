// @hls-s2/core/hub: The hub clients (DHuS, CDSE), their credentials, and CDSE's push subscriptions.
// What other packages import; core's own modules and tests import the modules themselves.
export type { Credentials } from "../adapters/hub/auth";
export { buildHub, type HubWiring } from "../adapters/hub/build";
export { CdseHub } from "../adapters/hub/cdse/hub";
export type { Subscription } from "../adapters/hub/cdse/subscriptions";
export {
  CDSE_CATALOGUE_URL,
  createSubscription,
  L1C_FILTER,
  listSubscriptions,
  pushSubscriptionRequest,
  terminateSubscription,
} from "../adapters/hub/cdse/subscriptions";
export { CDSE_TOKEN_URL, CdseTokenManager } from "../adapters/hub/cdse/token";
export { DhusHub } from "../adapters/hub/dhus";
export type { Hub } from "../adapters/hub/hub";
export { hubBaseUrl } from "../adapters/hub/url";
