// Public entry of @tenantfold/gateway-router.
export { GatewayRouter } from './gatewayRouter.js';
export type { RouterState, RouterStartOptions } from './gatewayRouter.js';
export { loadRouterConfig, ROUTER_SETTINGS } from './config/routerConfig.js';
export type { RouterConfig } from './config/routerConfig.js';
export { route } from './ingress/httpIngress.js';
export type { HttpRoute, HttpHandler, HttpContext, HttpReply } from './ingress/httpIngress.js';
export { HOLD_PHASES } from './holding/cutoverHold.js';
export { PlacementCache } from './placement/placementCache.js';
export type { PlacementSource } from './placement/placementCache.js';
