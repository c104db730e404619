import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TimeoutError, connect } from '@nats-io/transport-node';
import type { NatsServer } from '@tenantfold/testkit';
import { startNatsServer } from '@tenantfold/testkit';
import { describe, expect, it, vi } from 'vitest';
import type { CircuitState } from '../src/breaker/index.js';
import { CircuitBreaker, CircuitOpenError } from '../src/breaker/index.js';
import { PlacementStore } from '../src/placement/index.js';

describe('CircuitBreaker around a real NATS KV call', () => {
  it('opens while nats-server is down, fails fast, and closes once it is back', async () => {
    // Our own store dir: a server that owns its dir deletes it on stop, and the
    // restarted server must find the bucket again.
    const storeDir = await mkdtemp(join(tmpdir(), 'tenantfold-breaker-'));
    let server: NatsServer | undefined = await startNatsServer({ storeDir });
    const port = server.port;
    const nc = await connect({
      servers: server.url,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 50,
    });
    try {
      const store = await PlacementStore.open(nc, {
        bucket: `TP_BREAKER_${randomUUID().slice(0, 8)}`,
        requestTimeoutMs: 300,
      });
      await store.registerNode({
        id: 'n1',
        grpcAddress: '127.0.0.1:5001',
        adminAddress: '127.0.0.1:9001',
        tenantRange: 'a',
      });
      const breaker = new CircuitBreaker({ name: 'nats', failureThreshold: 3, cooldownMs: 250 });
      const states: CircuitState[] = [breaker.state];
      breaker.onStateChange((change) => states.push(change.to));
      let reachedNats = 0;
      const getNode = () =>
        breaker.execute(() => {
          reachedNats++;
          return store.getNode('n1');
        });

      await expect(getNode()).resolves.toMatchObject({ id: 'n1' });

      await server.stop();
      server = undefined;
      for (let i = 0; i < 3; i++) await expect(getNode()).rejects.toBeInstanceOf(TimeoutError);
      expect(breaker.state).toBe('OPEN');

      const before = reachedNats;
      const started = performance.now();
      const refused = await getNode().catch((e: unknown) => e);
      const elapsedMs = performance.now() - started;
      expect(refused).toBeInstanceOf(CircuitOpenError);
      expect(refused).toMatchObject({
        code: 'UNAVAILABLE',
        cause: expect.any(TimeoutError) as unknown,
      });
      expect(reachedNats).toBe(before);
      // Fast-fail speed is printed, not asserted: CI machines are shared and noisy.
      expect(elapsedMs).toBeLessThan(5_000);

      // Still down: after the cool-down the one trial call fails and the circuit reopens.
      await vi.waitFor(() => expect(breaker.state).toBe('HALF_OPEN'), {
        timeout: 2_000,
        interval: 25,
      });
      await expect(getNode()).rejects.toBeInstanceOf(TimeoutError);
      expect(breaker.state).toBe('OPEN');

      server = await startNatsServer({ port, storeDir });
      const restarted = performance.now();
      await vi.waitFor(() => getNode(), { timeout: 15_000, interval: 50 });
      const recoveryMs = performance.now() - restarted;
      expect(breaker.state).toBe('CLOSED');
      expect(await getNode()).toMatchObject({ id: 'n1' });
      expect(states.slice(0, 4)).toEqual(['CLOSED', 'OPEN', 'HALF_OPEN', 'OPEN']);
      expect(states.slice(-2)).toEqual(['HALF_OPEN', 'CLOSED']);
      // eslint-disable-next-line no-console -- measured figure for the report
      console.log(
        `breaker: fast-fail ${elapsedMs.toFixed(2)} ms while open; closed ${recoveryMs.toFixed(0)} ms after restart; states ${states.join(' → ')}`,
      );
    } finally {
      await nc.close();
      await server?.stop();
      await rm(storeDir, { recursive: true, force: true });
    }
  });
});
