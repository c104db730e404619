export { classifyChange } from './classify.js';
export type { ChangeKind } from './classify.js';
export {
  SubscriberBuffer,
  SlowSubscriberError,
  DEFAULT_SUBSCRIBER_BUFFER,
} from './subscriberBuffer.js';
export { LiveSet } from './liveSet.js';
export {
  notificationOf,
  stateSubject,
  encodeNotification,
  decodeNotification,
} from './notification.js';
export type { StateNotification } from './notification.js';
export {
  SubscriptionLimits,
  TooManySubscriptionsError,
  DEFAULT_SUBSCRIPTIONS_PER_TENANT,
  DEFAULT_SUBSCRIPTIONS_TOTAL,
} from './subscriptionLimits.js';
export type { SubscriptionLimitsOptions } from './subscriptionLimits.js';
