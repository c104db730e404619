import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import { freePort } from '@tenantfold/testkit';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { EXIT } from '../src/index.js';
import { appendRaw, cliWith, deleteNames, isolatedNames } from './cliHarness.js';

let nc: NatsConnection;
const cleanup: Array<ReturnType<typeof isolatedNames>> = [];

beforeAll(async () => {
  nc = await connect({ servers: inject('natsUrl') });
});

afterAll(async () => {
  for (const names of cleanup) await deleteNames(nc, names);
  await nc.close();
});

/** A fresh deployment (own stream, prefix, bucket), initialised, with two active nodes. */
async function deployment(nodes = ['node-a', 'node-b']) {
  const names = isolatedNames();
  cleanup.push(names);
  const cli = cliWith({ PLACEMENTCTL_NATS_URL: inject('natsUrl'), ...names });
  expect((await cli('init')).code).toBe(EXIT.OK);
  for (const [i, id] of nodes.entries()) {
    const added = await cli(
      'nodes',
      'add',
      id,
      '--grpc',
      `127.0.0.1:${7000 + i}`,
      '--admin',
      `127.0.0.1:${8000 + i}`,
      '--range',
      `r${i}`,
    );
    expect(added.code, added.err).toBe(EXIT.OK);
  }
  return { cli, names };
}

describe('placementctl on a real nats-server', () => {
  it('says to run init when the bucket is missing (exit 3), and init is idempotent', async () => {
    const names = isolatedNames();
    cleanup.push(names);
    const cli = cliWith({ PLACEMENTCTL_NATS_URL: inject('natsUrl'), ...names });
    const before = await cli('status');
    expect(before.code).toBe(EXIT.NOT_FOUND);
    expect(before.err).toContain('run `placementctl init` first');
    expect((await cli('init', '--vnodes', '40')).code).toBe(EXIT.OK);
    const again = await cli('--json', 'init');
    expect(again.code).toBe(EXIT.OK);
    expect(JSON.parse(again.out)).toMatchObject({ stream: names.PLACEMENTCTL_STREAM, vnodes: 40 });
  });

  it('rejects bad settings and arguments with exit 2, naming them', async () => {
    const bad = cliWith({ PLACEMENTCTL_NATS_URL: 'http://nope' });
    const config = await bad('status');
    expect(config.code).toBe(EXIT.USAGE);
    expect(config.err).toContain('PLACEMENTCTL_NATS_URL');
    const { cli } = await deployment([]);
    const weight = await cli(
      'nodes',
      'add',
      'x',
      '--grpc',
      'h:1',
      '--admin',
      'h:2',
      '--range',
      'r',
      '--weight',
      '0',
    );
    expect(weight.code).toBe(EXIT.USAGE);
    expect(weight.err).toContain('weight must be an integer from 1 to 100');
    expect((await cli('nodes', 'frobnicate')).code).toBe(EXIT.USAGE);
    const tenant = await cli('tenants', 'where', 'bad tenant!');
    expect(tenant.code).toBe(EXIT.USAGE);
    expect(tenant.err).toContain('tenant');
  });

  it('says NATS is unreachable with exit 5', async () => {
    const port = await freePort();
    const cli = cliWith({
      PLACEMENTCTL_NATS_URL: `nats://127.0.0.1:${port}`,
      PLACEMENTCTL_REQUEST_TIMEOUT_MS: '500',
    });
    const run = await cli('status');
    expect(run.code).toBe(EXIT.UNAVAILABLE);
    expect(run.err).toContain(`cannot connect to NATS at nats://127.0.0.1:${port}`);
  });

  it('lists nodes and tenants, answers where, and shows every tenant counted once', async () => {
    const { cli, names } = await deployment();
    for (const tenant of ['acme', 'globex', 'initech']) {
      await appendRaw(nc, names.PLACEMENTCTL_SUBJECT_PREFIX, tenant, 'a1');
      await appendRaw(nc, names.PLACEMENTCTL_SUBJECT_PREFIX, tenant, 'a2');
    }
    const nodes = JSON.parse((await cli('--json', 'nodes', 'list')).out) as Array<{
      id: string;
      tenants: number;
    }>;
    expect(nodes.map((n) => n.id).sort()).toEqual(['node-a', 'node-b']);
    expect(nodes.reduce((sum, n) => sum + n.tenants, 0)).toBe(3);
    const tenants = JSON.parse((await cli('--json', 'tenants', 'list')).out) as Array<{
      tenant: string;
      aggregates: number;
      via: string;
    }>;
    expect(tenants.map((t) => [t.tenant, t.aggregates, t.via])).toEqual([
      ['acme', 2, 'ring'],
      ['globex', 2, 'ring'],
      ['initech', 2, 'ring'],
    ]);
    const where = JSON.parse((await cli('--json', 'tenants', 'where', 'acme')).out) as {
      owner: string;
      ringOwner: string;
    };
    expect(where.owner).toBe(where.ringOwner);
    const text = await cli('status');
    expect(text.out).toMatch(/3 tenants/);
    expect(text.out).toMatch(/node-a\s+active\s+unreachable/);
  });

  it('pins only to the current owner unless forced, and unpins only when the ring agrees', async () => {
    const { cli } = await deployment();
    const where = JSON.parse((await cli('--json', 'tenants', 'where', 'acme')).out) as {
      owner: string;
    };
    const other = where.owner === 'node-a' ? 'node-b' : 'node-a';
    const refused = await cli('tenants', 'pin', 'acme', other);
    expect(refused.code).toBe(EXIT.USAGE);
    expect(refused.err).toContain(`placementctl migrate acme --to ${other}`);
    expect((await cli('tenants', 'pin', 'acme', where.owner)).code).toBe(EXIT.OK);
    expect((await cli('tenants', 'unpin', 'acme')).code).toBe(EXIT.OK);
    expect((await cli('tenants', 'pin', 'acme', other, '--force')).code).toBe(EXIT.OK);
    const after = JSON.parse((await cli('--json', 'tenants', 'where', 'acme')).out) as {
      owner: string;
      via: string;
    };
    expect(after).toMatchObject({ owner: other, via: 'pin' });
    const unpin = await cli('tenants', 'unpin', 'acme');
    expect(unpin.code).toBe(EXIT.USAGE);
    expect(unpin.err).toContain('without a drain');
    expect((await cli('tenants', 'unpin', 'nobody')).code).toBe(EXIT.NOT_FOUND);
  });

  it('ring: the distribution sums to the tenants, and adding a node moves about 1/N', async () => {
    const { cli, names } = await deployment(['node-a', 'node-b', 'node-c']);
    for (let i = 0; i < 300; i++)
      await appendRaw(nc, names.PLACEMENTCTL_SUBJECT_PREFIX, `t${i}`, 'x');
    const ring = JSON.parse(
      (await cli('--json', 'ring', '--add', 'node-d', '--remove', 'node-a')).out,
    ) as {
      tenants: number;
      nodes: Array<{ tenants: number }>;
      whatIf: Array<{
        change: string;
        moves: number;
        tenants: Array<{ from: string; to: string }>;
      }>;
    };
    expect(ring.tenants).toBe(300);
    expect(ring.nodes.reduce((sum, n) => sum + n.tenants, 0)).toBe(300);
    const [add, remove] = ring.whatIf;
    expect(add?.moves).toBeGreaterThan(300 * 0.15);
    expect(add?.moves).toBeLessThan(300 * 0.35);
    expect(add?.tenants.every((m) => m.to === 'node-d')).toBe(true);
    expect(remove?.tenants.every((m) => m.from === 'node-a')).toBe(true);
    expect(remove?.moves).toBe(ring.nodes[0]?.tenants);
  });

  it('nodes add freezes what the new node would take; rebalance --plan moves exactly those to it', async () => {
    const { cli, names } = await deployment();
    for (let i = 0; i < 60; i++)
      await appendRaw(nc, names.PLACEMENTCTL_SUBJECT_PREFIX, `t${i}`, 'x');
    const before = JSON.parse((await cli('--json', 'tenants', 'list')).out) as Array<{
      tenant: string;
      owner: string;
    }>;
    const whatIf = JSON.parse((await cli('--json', 'ring', '--add', 'node-c')).out) as {
      whatIf: Array<{ tenants: Array<{ tenant: string }> }>;
    };
    const expected = (whatIf.whatIf[0]?.tenants ?? []).map((t) => t.tenant).sort();
    expect(expected.length).toBeGreaterThan(0);
    const added = await cli(
      '--json',
      'nodes',
      'add',
      'node-c',
      '--grpc',
      'h:1',
      '--admin',
      'h:2',
      '--range',
      'c',
    );
    expect(JSON.parse(added.out)).toEqual({
      id: 'node-c',
      registered: true,
      frozen: expected.length,
    });
    // node-c is active, yet nobody moved.
    const after = JSON.parse((await cli('--json', 'tenants', 'list')).out) as Array<{
      tenant: string;
      owner: string;
    }>;
    expect(after.map((t) => [t.tenant, t.owner])).toEqual(before.map((t) => [t.tenant, t.owner]));
    const plan = JSON.parse((await cli('--json', 'rebalance', '--plan')).out) as {
      moves: Array<{ tenant: string; to: string }>;
    };
    expect(plan.moves.map((m) => m.tenant).sort()).toEqual(expected);
    expect(plan.moves.every((m) => m.to === 'node-c')).toBe(true);
    // Pinning a frozen tenant by hand makes the pin the operator's: rebalance then leaves it.
    const [kept] = plan.moves;
    const owner = before.find((t) => t.tenant === kept?.tenant)?.owner as string;
    expect((await cli('tenants', 'pin', kept?.tenant as string, owner)).code).toBe(EXIT.OK);
    const replanned = JSON.parse((await cli('--json', 'rebalance', '--plan')).out) as {
      moves: Array<{ tenant: string }>;
    };
    expect(replanned.moves.map((m) => m.tenant)).not.toContain(kept?.tenant);
    expect(replanned.moves).toHaveLength(plan.moves.length - 1);
  });

  it('nodes: add refuses a registered id, drain pins the ring tenants, remove refuses an owner', async () => {
    const { cli, names } = await deployment();
    for (let i = 0; i < 20; i++)
      await appendRaw(nc, names.PLACEMENTCTL_SUBJECT_PREFIX, `t${i}`, 'x');
    const dup = await cli(
      'nodes',
      'add',
      'node-a',
      '--grpc',
      'h:1',
      '--admin',
      'h:2',
      '--range',
      'r',
    );
    expect(dup.code).toBe(EXIT.USAGE);
    expect(dup.err).toContain('already registered');
    const owned = JSON.parse(
      (await cli('--json', 'tenants', 'list', '--node', 'node-a')).out,
    ) as Array<{ tenant: string }>;
    expect(owned.length).toBeGreaterThan(0);
    const removeRefused = await cli('nodes', 'remove', 'node-a');
    expect(removeRefused.code).toBe(EXIT.USAGE);
    expect(removeRefused.err).toContain('nodes drain node-a');
    const drained = JSON.parse((await cli('--json', 'nodes', 'drain', 'node-a')).out) as {
      status: string;
      pinned: number;
    };
    expect(drained).toEqual({ id: 'node-a', status: 'draining', pinned: owned.length });
    // Nothing moved: node-a keeps its tenants through the pins.
    const still = JSON.parse(
      (await cli('--json', 'tenants', 'list', '--node', 'node-a')).out,
    ) as Array<{ tenant: string; via: string }>;
    expect(still.map((t) => t.tenant)).toEqual(owned.map((t) => t.tenant));
    expect(still.every((t) => t.via === 'pin')).toBe(true);
    const plan = JSON.parse((await cli('--json', 'rebalance', '--plan')).out) as {
      leaving: string[];
      moves: Array<{ from: string; to: string }>;
    };
    expect(plan.leaving).toEqual(['node-a']);
    expect(plan.moves).toHaveLength(owned.length);
    expect(plan.moves.every((m) => m.from === 'node-a' && m.to === 'node-b')).toBe(true);
  });

  it('export then import into a fresh bucket gives the same placement; import refuses silent moves', async () => {
    const { cli } = await deployment();
    const where = JSON.parse((await cli('--json', 'tenants', 'where', 'acme')).out) as {
      owner: string;
    };
    expect((await cli('tenants', 'pin', 'acme', where.owner)).code).toBe(EXIT.OK);
    const dir = await mkdtemp(join(tmpdir(), 'placementctl-'));
    try {
      const file = join(dir, 'placement.yaml');
      expect((await cli('export', '-o', file)).code).toBe(EXIT.OK);
      const exported = parse(await readFile(file, 'utf8')) as {
        nodes: Record<string, unknown>;
        tenants: Record<string, string>;
      };
      expect(Object.keys(exported.nodes).sort()).toEqual(['node-a', 'node-b']);
      expect(exported.tenants).toEqual({ acme: where.owner });

      const fresh = await deployment([]);
      const dry = await fresh.cli('--json', 'import', file, '--dry-run');
      expect(JSON.parse(dry.out)).toMatchObject({
        applied: false,
        pins: [{ tenant: 'acme', to: where.owner }],
      });
      expect((await fresh.cli('import', file)).code).toBe(EXIT.OK);
      expect((await fresh.cli('export')).out).toBe((await cli('export')).out);

      // Re-pinning acme elsewhere by file would move it without a drain.
      const other = where.owner === 'node-a' ? 'node-b' : 'node-a';
      await writeFile(
        file,
        (await readFile(file, 'utf8')).replace(`acme: ${where.owner}`, `acme: ${other}`),
      );
      const refused = await fresh.cli('import', file);
      expect(refused.code).toBe(EXIT.USAGE);
      expect(refused.err).toContain('would move 1 tenant(s) without a drain');
      await writeFile(
        file,
        'nodes:\n  node-x: { grpc: "h:1", admin: "h:2", tenant_range: x, wieght: 2 }\n',
      );
      const typo = await fresh.cli('import', file);
      expect(typo.code).toBe(EXIT.USAGE);
      expect(typo.err).toContain('nodes.node-x.wieght');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
