import { connect } from 'node:net';
import { expect, inject, it } from 'vitest';

it('the run-wide nats-server accepts connections', async () => {
  const url = new URL(inject('natsUrl'));
  await new Promise<void>((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => {
      socket.once('data', (data: Buffer) => {
        expect(data.toString()).toMatch(/^INFO .*"jetstream":true/);
        socket.destroy();
        resolve();
      });
    });
    socket.once('error', reject);
  });
});
