import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TenantId, ValidationError } from '@tenantfold/core';
import { describe, expect, it } from 'vitest';
import {
  createPlacement,
  parsePlacementYaml,
  placementToYaml,
  readPlacementFile,
  resolveOwner,
} from '../src/index.js';

const EXAMPLE = `
ring: { vnodes: 40 }
nodes:
  node-a: { grpc: "127.0.0.1:7001", admin: "127.0.0.1:8001", tenant_range: a, weight: 2, status: active }
  node-b: { grpc: "127.0.0.1:7002", admin: "127.0.0.1:8002", tenant_range: b }
  node-c: { grpc: "127.0.0.1:7003", admin: "127.0.0.1:8003", tenant_range: c, status: draining }
tenants:
  acme-corp: node-c
  "=default": node-b
`;

function errorOf(text: string): ValidationError {
  try {
    parsePlacementYaml(text);
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('parsePlacementYaml', () => {
  it('reads ring, nodes (with defaults) and pins, including the default tenant', () => {
    const placement = parsePlacementYaml(EXAMPLE);
    expect(placement.ring.vnodes).toBe(40);
    expect(placement.nodes.get('node-a')).toMatchObject({
      grpcAddress: '127.0.0.1:7001',
      adminAddress: '127.0.0.1:8001',
      tenantRange: 'a',
      weight: 2,
      status: 'active',
    });
    expect(placement.nodes.get('node-b')).toMatchObject({ weight: 1, status: 'active' });
    expect(placement.pins.get(TenantId.parse('acme-corp'))?.nodeId).toBe('node-c');
    expect(placement.pins.get(TenantId.DEFAULT)?.nodeId).toBe('node-b');
    // A pin to a draining node still wins; that is what resolveOwner does with KV too.
    expect(resolveOwner(placement, TenantId.parse('acme-corp'))).toBe('node-c');
  });

  it('round-trips through placementToYaml', () => {
    const placement = parsePlacementYaml(EXAMPLE);
    const again = parsePlacementYaml(placementToYaml(placement));
    expect([...again.nodes.values()]).toEqual([...placement.nodes.values()]);
    expect(new Map(again.pins)).toEqual(new Map(placement.pins));
    expect(again.ring.vnodes).toBe(40);
  });

  it('writes sorted keys in the documented schema', () => {
    const placement = createPlacement({
      nodes: [
        {
          id: 'n2',
          grpcAddress: 'h:2',
          adminAddress: 'h:12',
          tenantRange: 'r2',
          weight: 1,
          status: 'down',
          heartbeatAt: '2026-01-01T00:00:00Z',
        },
        {
          id: 'n1',
          grpcAddress: 'h:1',
          adminAddress: 'h:11',
          tenantRange: 'r1',
          weight: 3,
          status: 'active',
          heartbeatAt: '2026-01-01T00:00:00Z',
        },
      ],
      pins: [['zeta', 'n1'] as const, ['alpha', 'n2'] as const].map(
        ([t, n]) => [TenantId.parse(t), n] as const,
      ),
    });
    expect(placementToYaml(placement)).toBe(
      [
        'ring:',
        '  vnodes: 160',
        'nodes:',
        '  n1:',
        '    grpc: h:1',
        '    admin: h:11',
        '    tenant_range: r1',
        '    weight: 3',
        '    status: active',
        '  n2:',
        '    grpc: h:2',
        '    admin: h:12',
        '    tenant_range: r2',
        '    weight: 1',
        '    status: down',
        'tenants:',
        '  alpha: n2',
        '  zeta: n1',
        '',
      ].join('\n'),
    );
  });

  it.each([
    ['ring: { vnodes: 0 }', 'ring.vnodes', 'integer from 1 to 1000'],
    ['ring: { vnode: 10 }', 'ring.vnode', 'unknown key'],
    ['ring: 5', 'ring', 'expected a mapping'],
    ['nodes: { a: { grpc: "h:1", admin: "h:2" } }', 'nodes.a.tenant_range', 'printable'],
    ['nodes: { a: { grpc: 7001, admin: "h:2", tenant_range: r } }', 'nodes.a.grpc', 'printable'],
    [
      'nodes: { a: { grpc: "h:1", admin: "h:2", tenant_range: r, status: up } }',
      'nodes.a.status',
      'active, draining, down',
    ],
    [
      'nodes: { a: { grpc: "h:1", admin: "h:2", tenant_range: r, weight: 1.5 } }',
      'nodes.a.weight',
      'integer from 1 to 100',
    ],
    ['nodes: { a: { grcp: "h:1", admin: "h:2", tenant_range: r } }', 'nodes.a.grcp', 'unknown key'],
    ['nodes: { "bad id": { grpc: "h:1" } }', 'nodes.bad id', 'node id'],
    ['tenants: { acme: nowhere }', 'tenants.acme', "node 'nowhere' is not listed"],
    ['tenants: { "a.b": x }', 'tenants.a.b', 'A-Z a-z 0-9'],
    ['tenant: { acme: a }', 'tenant', 'unknown key'],
    ['- just a list', '(top level)', 'expected a mapping'],
    ['', '(top level)', 'got nothing'],
    ['nodes: { a: [1, 2', 'placement', 'not valid YAML'],
  ])('refuses %j naming %s', (text, field, reason) => {
    const error = errorOf(text);
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
    expect(error.message).toContain(reason);
  });
});

describe('readPlacementFile', () => {
  it('reads a file and names the path in errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'placement-file-'));
    try {
      const good = join(dir, 'placement.yaml');
      await writeFile(good, EXAMPLE);
      expect((await readPlacementFile(good)).nodes.size).toBe(3);

      const bad = join(dir, 'bad.yaml');
      await writeFile(bad, 'ring: { vnodes: -1 }');
      await expect(readPlacementFile(bad)).rejects.toThrow(`placement file ${bad}: ring.vnodes`);
      await expect(readPlacementFile(join(dir, 'missing.yaml'))).rejects.toThrow(
        /cannot read placement file .*missing\.yaml/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
