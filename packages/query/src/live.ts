// @tenantfold/query/live: the parts live subscriptions are made of (the live
// set, a subscriber's bounded buffer, subscription limits, state
// notifications on core NATS). No SQLite: a router serves subscriptions with
// these alone.
export {
  classifyChange,
  LiveSet,
  SubscriberBuffer,
  SlowSubscriberError,
  DEFAULT_SUBSCRIBER_BUFFER,
  notificationOf,
  stateSubject,
  encodeNotification,
  decodeNotification,
  SubscriptionLimits,
  TooManySubscriptionsError,
  DEFAULT_SUBSCRIPTIONS_PER_TENANT,
  DEFAULT_SUBSCRIPTIONS_TOTAL,
} from './live/index.js';
export type { ChangeKind, StateNotification, SubscriptionLimitsOptions } from './live/index.js';
// The rows a live set holds and the change a notification is made from.
export type { StateRow, AppliedChange } from './readModel/index.js';
