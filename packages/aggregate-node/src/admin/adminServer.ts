import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isTenantfoldError, parseJson, statusFor, ValidationError } from '@tenantfold/core';
import type { Logger } from '@tenantfold/core';

/** One `/admin` call as a route handler sees it. */
export interface AdminRequest {
  /** The JSON body of a POST (`{}` when empty); undefined for a GET. */
  readonly body: unknown;
  readonly query: URLSearchParams;
  /** The last path segment of a `…/*` route, URI-decoded. */
  readonly param?: string;
}

/** What the admin endpoints ask of the node. */
export interface AdminHooks {
  health(): Promise<{ ok: boolean } & Record<string, unknown>>;
  ready(): { ready: boolean; reason?: string };
  metrics(): Promise<{ contentType: string; body: string }>;
  /**
   * `/admin/...` routes: method + path without `/admin` (`POST /drain`), or
   * with `*` for a last segment taken as a parameter (`GET /projections/*`).
   */
  readonly admin: Readonly<Record<string, (request: AdminRequest) => Promise<unknown>>>;
}

export interface AdminServerOptions {
  readonly host: string;
  readonly port: number;
  /** Bearer token for `/admin/*`; empty refuses every admin call. */
  readonly token: string;
  readonly logger: Logger;
}

/**
 * Bodies are read only after the token check, so the cap guards against
 * mistakes, not strangers: a verify call carries one entry (~150 bytes) per
 * aggregate of the tenant, 100k aggregates ≈ 15 MB.
 */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** The node's HTTP side: `/health`, `/ready`, `/metrics` open; `/admin/*` behind the token. */
export class AdminServer {
  private server: Server | undefined;

  constructor(
    private readonly options: AdminServerOptions,
    private readonly hooks: AdminHooks,
  ) {}

  async start(): Promise<{ port: number }> {
    const server = createServer((req, res) => {
      this.route(req, res).catch((error: unknown) => sendError(res, error));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    this.server = server;
    return { port: (server.address() as AddressInfo).port };
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (req.method === 'GET' && path === '/health') {
      const health = await this.hooks.health();
      return sendJson(res, health.ok ? 200 : 503, health);
    }
    if (req.method === 'GET' && path === '/ready') {
      const ready = this.hooks.ready();
      return sendJson(res, ready.ready ? 200 : 503, ready);
    }
    if (req.method === 'GET' && path === '/metrics') {
      const { contentType, body } = await this.hooks.metrics();
      res.writeHead(200, { 'content-type': contentType }).end(body);
      return;
    }
    if (path.startsWith('/admin/')) {
      if (!this.authorised(req)) {
        res.writeHead(401, { 'www-authenticate': 'Bearer', 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            code: 'UNAUTHORIZED',
            message: 'admin calls need Authorization: Bearer <token>',
          }),
        );
        return;
      }
      const route = this.routeOf(`${req.method} ${path.slice('/admin'.length)}`);
      if (route !== undefined) {
        const body = req.method === 'POST' ? await readJsonBody(req) : undefined;
        const request = { body, query: url.searchParams, ...route.param };
        return sendJson(res, 200, await route.handler(request));
      }
    }
    sendJson(res, 404, { code: 'NOT_FOUND', message: `no route ${req.method} ${path}` });
  }

  private routeOf(
    name: string,
  ):
    | { handler: (request: AdminRequest) => Promise<unknown>; param?: { param: string } }
    | undefined {
    const exact = this.hooks.admin[name];
    if (exact !== undefined) return { handler: exact };
    const slash = name.lastIndexOf('/');
    const param = name.slice(slash + 1);
    const wildcard = this.hooks.admin[`${name.slice(0, slash)}/*`];
    if (wildcard === undefined || param === '') return undefined;
    let decoded: string;
    try {
      decoded = decodeURIComponent(param);
    } catch {
      throw new ValidationError(`malformed path segment '${param}'`, 'path');
    }
    return { handler: wildcard, param: { param: decoded } };
  }

  private authorised(req: IncomingMessage): boolean {
    const expected = Buffer.from(`Bearer ${this.options.token}`);
    const given = Buffer.from(req.headers.authorization ?? '');
    return (
      this.options.token !== '' &&
      given.length === expected.length &&
      timingSafeEqual(given, expected)
    );
  }
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES)
      throw new ValidationError(`request body over ${MAX_BODY_BYTES} bytes`, 'body');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? {} : parseJson(text, 'body');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) return void res.end();
  const body = isTenantfoldError(error)
    ? error.toJSON()
    : { code: 'INTERNAL', message: 'internal error' };
  sendJson(res, statusFor(error).http, body);
}
