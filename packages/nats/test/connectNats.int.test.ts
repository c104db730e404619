import type { NatsServer } from '@tenantfold/testkit';
import { startNatsServer } from '@tenantfold/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats } from '../src/index.js';

describe('connectNats', () => {
  let withUser: NatsServer;
  let withToken: NatsServer;

  beforeAll(async () => {
    [withUser, withToken] = await Promise.all([
      startNatsServer({ args: ['--user', 'svc', '--pass', 'user-secret'] }),
      startNatsServer({ args: ['--auth', 'token-secret'] }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([withUser?.stop(), withToken?.stop()]);
  });

  it('logs in with the user and password of the settings, and only with them', async () => {
    const nc = await connectNats(
      { natsServers: [withUser.url], natsUser: 'svc', natsPassword: 'user-secret' },
      { name: 'test-user', timeoutMs: 2_000 },
    );
    await nc.flush();
    await nc.close();
    for (const settings of [
      { natsServers: [withUser.url], natsUser: 'svc', natsPassword: 'wrong' },
      { natsServers: [withUser.url] },
    ]) {
      await expect(
        connectNats(settings, { name: 'test-user', timeoutMs: 2_000 }),
      ).rejects.toThrow();
    }
  });

  it('logs in with the token of the settings; empty settings send none', async () => {
    const nc = await connectNats(
      { natsServers: [withToken.url], natsUser: '', natsPassword: '', natsToken: 'token-secret' },
      { name: 'test-token', timeoutMs: 2_000 },
    );
    await nc.flush();
    await nc.close();
    await expect(
      connectNats(
        { natsServers: [withToken.url], natsUser: '', natsToken: '' },
        { name: 'test-token', timeoutMs: 2_000 },
      ),
    ).rejects.toThrow();
  });
});
