// Container health check without curl: GET /health on the admin address the
// service listens on. Usage: node healthcheck.mjs ENV_NAME DEFAULT_HOST:PORT
/* global fetch, AbortSignal, URL -- Node 20 globals */
import process from 'node:process';

const [envName = '', fallback = ''] = process.argv.slice(2);
const listen = process.env[envName]?.trim() || fallback;
const { hostname, port } = new URL(`http://${listen}`);
// A wildcard listen address is reachable on loopback.
const host = ['0.0.0.0', '[::]', ''].includes(hostname) ? '127.0.0.1' : hostname;
const response = await fetch(`http://${host}:${port}/health`, {
  signal: AbortSignal.timeout(2_000),
});
process.exit(response.ok ? 0 : 1);
