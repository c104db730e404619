import { parseJson } from '@tenantfold/core';
import type { HttpReply, HttpRoute } from './httpIngress.js';
import { route } from './httpIngress.js';
import { queryAggregates, subscribeEvents } from './queryRoutes.js';
import type { RouterService } from './routerService.js';
import type { SseOptions } from './sse.js';

/** What the operational endpoints ask of the router. */
export interface Probes {
  health(): { ok: boolean } & Record<string, unknown>;
  ready(): { ready: boolean; reason?: string } & Record<string, unknown>;
  metrics(): Promise<{ contentType: string; body: string }>;
}

const correlated = (correlationId: string, body: unknown): HttpReply => ({
  body,
  headers: { 'x-correlation-id': correlationId },
});

/** Every HTTP endpoint of the router, one line each. */
export function httpRoutes(service: RouterService, probes: Probes, sse: SseOptions): HttpRoute[] {
  return [
    route('POST', '/v1/commands', async (context) => {
      const { response, correlationId } = await service.submitEncoded(
        context.call,
        await context.bytes(),
        'json',
        'http POST /v1/commands',
      );
      return { json: response, headers: { 'x-correlation-id': correlationId } };
    }),
    route('GET', '/v1/aggregates/:type/:id', async ({ call, params }) => {
      const { type, id } = params;
      const { response, correlationId } = await service.getState(
        call,
        { aggregate_type: type, aggregate_id: id },
        'http GET /v1/aggregates/:type/:id',
      );
      return correlated(correlationId, {
        aggregate_type: type,
        aggregate_id: id,
        version: response.version,
        state: parseJson(response.state_json, 'state_json'),
      });
    }),
    route('GET', '/v1/aggregates/:type', queryAggregates(service)),
    route('GET', '/v1/subscriptions/:type', subscribeEvents(service, sse)),
    route('GET', '/health', () => {
      const health = probes.health();
      return Promise.resolve({ status: health.ok ? 200 : 503, body: health });
    }),
    route('GET', '/ready', () => {
      const ready = probes.ready();
      return Promise.resolve({ status: ready.ready ? 200 : 503, body: ready });
    }),
    route('GET', '/metrics', async ({ res }) => {
      const { contentType, body } = await probes.metrics();
      res.writeHead(200, { 'content-type': contentType }).end(body);
      return undefined;
    }),
  ];
}
