import type { HttpHandler } from './httpIngress.js';
import { bodyOfParams, QUERY_PARAMS, SUBSCRIBE_PARAMS } from './httpQueryParams.js';
import type { QueryResponse, RouterService } from './routerService.js';
import type { SseOptions } from './sse.js';
import { writeEvents } from './sse.js';

/** A page as HTTP/JSON returns it: states as JSON, not text. */
export function pageJson(response: QueryResponse) {
  return {
    rows: response.rows.map((row) => ({
      id: row.aggregate_id,
      version: row.version,
      updated_at: row.updated_at,
      position: row.position,
      state: JSON.parse(row.state_json) as unknown,
    })),
    ...(response.next_cursor === '' ? {} : { next_cursor: response.next_cursor }),
    limit: response.limit,
    limit_capped: response.limit_capped,
    position: response.position,
  };
}

/** `GET /v1/aggregates/:type?filter=…&sort=…&limit=…&cursor=…&consistency_token=…`: one page. */
export function queryAggregates(service: RouterService): HttpHandler {
  return async ({ call, params, query }) => {
    const body = { ...bodyOfParams(query, QUERY_PARAMS), aggregate_type: params.type };
    const { response, correlationId } = await service.query(
      call,
      body,
      'http GET /v1/aggregates/:type',
    );
    return { body: pageJson(response), headers: { 'x-correlation-id': correlationId } };
  };
}

/**
 * `GET /v1/subscriptions/:type?filter=…&consistency_token=…&resume=…` as
 * server-sent events. Refusals (bad filter, caps, no owner) are plain JSON
 * errors before the stream starts; later failures end it with `event: error`.
 */
export function subscribeEvents(service: RouterService, sse: SseOptions): HttpHandler {
  return async ({ call, params, query, res }) => {
    const body = { ...bodyOfParams(query, SUBSCRIBE_PARAMS), aggregate_type: params.type };
    const { response: subscription } = await service.subscribe(
      call,
      body,
      'http GET /v1/subscriptions/:type',
    );
    await writeEvents(res, subscription, sse);
    return undefined;
  };
}
