import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_PAYLOAD_BYTES, parseJson, ValidationError } from '@tenantfold/core';
import type { Logger } from '@tenantfold/core';
import { httpErrorOf, RETRY_AFTER } from './errorReply.js';
import type { CallContext } from '@tenantfold/wire';

/** What a route handler gets. */
export interface HttpContext {
  readonly req: IncomingMessage;
  /** For handlers that stream (server-sent events): write to it and return undefined. */
  readonly res: ServerResponse;
  /** Values of the pattern's `:name` segments (URL-decoded). */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** Tenant, correlation id and traceparent from the headers. */
  readonly call: CallContext;
  /** The JSON body; a bad or oversized body is a `ValidationError` (400). */
  body(): Promise<unknown>;
  /** The body's bytes, unparsed (an empty or oversized body is a `ValidationError`). */
  bytes(): Promise<Uint8Array>;
}

/** A JSON answer: `body` to encode, or `json`, bytes that are JSON already (a node's answer). */
export type HttpReply = {
  /** @default 200 */
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
} & ({ readonly body: unknown } | { readonly json: Uint8Array });

/** Answers JSON, or writes the response itself (streams) and resolves to undefined. */
export type HttpHandler = (context: HttpContext) => Promise<HttpReply | undefined>;

export interface HttpRoute {
  readonly method: string;
  /** Path with `:name` segments, e.g. `/v1/aggregates/:type/:id`. */
  readonly pattern: string;
  readonly handler: HttpHandler;
}

/** A route: one line per endpoint in the table. */
export function route(method: string, pattern: string, handler: HttpHandler): HttpRoute {
  return { method, pattern, handler };
}

/** Room for the envelope around a command's data in a request body. */
export const ENVELOPE_BYTES = 64 * 1024;

interface CompiledRoute extends HttpRoute {
  readonly segments: readonly string[];
}

/** HTTP server over a route table; errors become JSON `{code, message}` with the table's status. */
export class HttpIngress {
  #server: Server | undefined;
  readonly #routes: readonly CompiledRoute[];

  constructor(
    private readonly listen: { readonly host: string; readonly port: number },
    routes: readonly HttpRoute[],
    private readonly logger: Logger,
    /** Largest request body: the biggest command data plus room for the envelope. */
    private readonly maxBodyBytes = MAX_PAYLOAD_BYTES + ENVELOPE_BYTES,
  ) {
    this.#routes = routes.map((r) => ({ ...r, segments: r.pattern.split('/').slice(1) }));
  }

  async start(): Promise<{ port: number }> {
    const server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => sendError(res, error, this.logger));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listen.port, this.listen.host, () => resolve());
    });
    this.#server = server;
    return { port: (server.address() as AddressInfo).port };
  }

  /** Stops taking connections; requests in flight finish until `deadlineMs`, then are cut. */
  async stop(deadlineMs: number): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    server.closeIdleConnections();
    const cut = setTimeout(() => server.closeAllConnections(), deadlineMs);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    clearTimeout(cut);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // By hand, not `new URL` (a measurable share of a command's router CPU): path and query.
    const raw = req.url ?? '/';
    // absolute-form (a proxy's request line) goes through URL
    const target = raw.startsWith('/') ? raw : urlPath(new URL(raw, 'http://router'));
    const mark = target.indexOf('?');
    const pathname = mark === -1 ? target : target.slice(0, mark);
    const query = new URLSearchParams(mark === -1 ? '' : target.slice(mark + 1));
    const path = pathname.split('/').slice(1);
    let allowed: string[] = [];
    for (const r of this.#routes) {
      const params = match(r.segments, path);
      if (params === undefined) continue;
      if (r.method !== req.method) {
        allowed = [...allowed, r.method];
        continue;
      }
      const reply = await r.handler({
        req,
        res,
        params,
        query,
        call: {
          tenant: header(req, 'x-tenant-id'),
          correlationId: header(req, 'x-correlation-id'),
          traceparent: header(req, 'traceparent'),
        },
        body: async () =>
          parseJson((await readBody(req, this.maxBodyBytes)).toString('utf8'), 'body'),
        bytes: () => readBody(req, this.maxBodyBytes),
      });
      if (reply !== undefined) {
        const payload = 'json' in reply ? reply.json : JSON.stringify(reply.body);
        sendEncoded(res, reply.status ?? 200, payload, reply.headers);
      }
      return;
    }
    if (allowed.length > 0) {
      return sendJson(
        res,
        405,
        { code: 'METHOD_NOT_ALLOWED', message: `${req.method} not allowed on ${pathname}` },
        { allow: allowed.join(', ') },
      );
    }
    sendJson(res, 404, { code: 'NOT_FOUND', message: `no route ${req.method} ${pathname}` });
  }
}

function match(
  pattern: readonly string[],
  path: readonly string[],
): Record<string, string> | undefined {
  if (pattern.length !== path.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const want = pattern[i]!;
    const got = path[i]!;
    if (want.startsWith(':')) {
      if (got === '') return undefined;
      try {
        params[want.slice(1)] = decodeURIComponent(got);
      } catch {
        return undefined; // a malformed %-escape matches no route
      }
    } else if (want !== got) {
      return undefined;
    }
  }
  return params;
}

const urlPath = (url: URL): string => url.pathname + url.search;

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(req: IncomingMessage, maxBodyBytes: number): Promise<Buffer> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) {
      throw new ValidationError(`request body over ${maxBodyBytes} bytes`, 'body');
    }
    chunks.push(chunk as Buffer);
  }
  const body = Buffer.concat(chunks);
  if (body.toString('utf8', 0, 256).trim() === '' && body.toString('utf8').trim() === '') {
    throw new ValidationError('a JSON body is required', 'body');
  }
  return body;
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  sendEncoded(res, status, JSON.stringify(body), headers);
}

function sendEncoded(
  res: ServerResponse,
  status: number,
  json: string | Uint8Array,
  headers: Readonly<Record<string, string>> = {},
): void {
  // The rest of an unread body would stall the next request on this socket: close it instead.
  const close = bodyUnread(res.req) ? { connection: 'close' } : {};
  res.writeHead(status, { ...headers, ...close, 'content-type': 'application/json' });
  res.end(json);
}

/** A body was announced (RFC 9112 §6.3) but not read to its end: refused early or over the cap. */
function bodyUnread(req: IncomingMessage): boolean {
  const announced =
    req.headers['transfer-encoding'] !== undefined ||
    Number(req.headers['content-length'] ?? 0) > 0;
  return announced && !req.readableEnded;
}

function sendError(res: ServerResponse, error: unknown, logger: Logger): void {
  if (res.headersSent) {
    logger.warn({ err: error }, 'error after the response started');
    res.end();
    return;
  }
  const { status, body, retryAfterSeconds } = httpErrorOf(error);
  if (status === 500) logger.error({ err: error }, 'request failed');
  sendJson(
    res,
    status,
    body,
    retryAfterSeconds === undefined ? {} : { [RETRY_AFTER]: String(retryAfterSeconds) },
  );
}
