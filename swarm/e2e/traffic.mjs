// Bank-account traffic through a router's HTTP API, for the Swarm end-to-end
// run. Keeps a ledger (JSON file) of every acknowledged command, so `check` can
// compare each account's state with exactly what was acknowledged. No retries:
// a failed command is reported, never hidden.
//
//   node traffic.mjs open    --router URL --ledger FILE --tenants a,b --accounts 3
//   node traffic.mjs deposit --router URL --ledger FILE [--tenants a] [--count N | --until FILE] [--concurrency C]
//   node traffic.mjs check   --router URL --ledger FILE
//
// Prints one JSON summary line; exits 1 when a command failed or a state differs.
/* global fetch, AbortSignal -- Node 20 globals */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import process from 'node:process';
import { parseArgs } from 'node:util';

const { positionals, values: opts } = parseArgs({
  allowPositionals: true,
  options: {
    router: { type: 'string' },
    ledger: { type: 'string' },
    tenants: { type: 'string' },
    accounts: { type: 'string', default: '3' },
    count: { type: 'string' },
    until: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
  },
});
const mode = positionals[0];
if (!['open', 'deposit', 'check'].includes(mode ?? '') || !opts.router || !opts.ledger) {
  process.stderr.write('usage: traffic.mjs open|deposit|check --router URL --ledger FILE …\n');
  process.exit(2);
}
const ledger = existsSync(opts.ledger) ? JSON.parse(readFileSync(opts.ledger, 'utf8')) : {};
const keysOf = (tenants) =>
  Object.keys(ledger).filter((key) => !tenants || tenants.includes(key.split('/')[0]));

async function call(method, tenant, path, body) {
  const response = await fetch(`${opts.router}${path}`, {
    method,
    headers: { 'content-type': 'application/json', 'x-tenant-id': tenant },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} (${tenant}): ${response.status} ${text}`);
  return JSON.parse(text);
}

const submit = (tenant, id, type, data) =>
  call('POST', tenant, '/v1/commands', {
    aggregate_type: 'account',
    aggregate_id: id,
    command_id: randomUUID(),
    payload: { type, data },
  });

/** Runs `next()` jobs on `concurrency` workers until it returns undefined. */
async function runJobs(next, concurrency) {
  const result = { sent: 0, ok: 0, failed: 0, errors: [] };
  const worker = async () => {
    for (let job = next(); job !== undefined; job = next()) {
      result.sent += 1;
      try {
        await job();
        result.ok += 1;
      } catch (error) {
        result.failed += 1;
        if (result.errors.length < 5) result.errors.push(String(error.message ?? error));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return result;
}

const started = Date.now();
let summary;
if (mode === 'open') {
  const tenants = (opts.tenants ?? '').split(',').filter(Boolean);
  const jobs = tenants.flatMap((tenant) =>
    Array.from({ length: Number(opts.accounts) }, (_, i) => async () => {
      const id = `acc-${i}`;
      const reply = await submit(tenant, id, 'Open', { owner: `${tenant}-owner-${i}` });
      ledger[`${tenant}/${id}`] = { version: reply.version, balance: 0 };
    }),
  );
  summary = await runJobs(() => jobs.shift(), Number(opts.concurrency));
} else if (mode === 'deposit') {
  const keys = keysOf(opts.tenants?.split(','));
  if (keys.length === 0) throw new Error('no accounts in the ledger for these tenants: run open');
  const limit = opts.count === undefined ? Infinity : Number(opts.count);
  let issued = 0;
  const next = () => {
    if (issued >= limit || (opts.until !== undefined && existsSync(opts.until))) return undefined;
    const key = keys[issued++ % keys.length];
    const [tenant, id] = key.split('/');
    return async () => {
      const reply = await submit(tenant, id, 'Deposit', { amount: 1 });
      // Replies for one account may arrive out of order: keep the highest version.
      ledger[key].version = Math.max(ledger[key].version, reply.version);
      ledger[key].balance += 1;
    };
  };
  summary = await runJobs(next, Number(opts.concurrency));
} else {
  const mismatches = [];
  for (const key of keysOf()) {
    const [tenant, id] = key.split('/');
    const { state, version } = await call('GET', tenant, `/v1/aggregates/account/${id}`);
    const want = ledger[key];
    if (state.balance !== want.balance || version !== want.version) {
      mismatches.push({ key, want, got: { balance: state.balance, version } });
    }
  }
  summary = { checked: keysOf().length, mismatches };
}
writeFileSync(opts.ledger, JSON.stringify(ledger, null, 1));
const seconds = (Date.now() - started) / 1000;
process.stdout.write(`${JSON.stringify({ mode, ...summary, seconds })}\n`);
process.exit(summary.failed > 0 || summary.mismatches?.length > 0 ? 1 : 0);
