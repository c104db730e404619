import { ConfigError, parseSetting, readSettings } from '@tenantfold/core';
import { describe, expect, it } from 'vitest';

const spec = {
  nodeId: { key: 'nodeId', env: 'T_NODE_ID', parse: parseSetting.string, doc: 'this node' },
  grpcListen: {
    key: 'grpcListen',
    env: 'T_GRPC_LISTEN',
    parse: parseSetting.listenAddress,
    default: { host: '127.0.0.1', port: 50051 },
    doc: 'gRPC address',
  },
  maxRetries: {
    key: 'maxRetries',
    env: 'T_MAX_RETRIES',
    parse: parseSetting.integer(0, 100),
    default: 5,
    doc: 'retries',
  },
  nats: {
    key: 'nats',
    env: 'T_NATS',
    parse: parseSetting.urls('nats'),
    default: ['nats://127.0.0.1:4222'],
    doc: 'NATS',
  },
  token: {
    key: 'adminToken',
    env: 'T_TOKEN',
    parse: parseSetting.string,
    default: '',
    doc: 'admin',
    secret: true,
  },
};

describe('readSettings', () => {
  it('takes env over the file, the file over defaults, and treats blank env as unset', () => {
    const settings = readSettings(
      spec,
      { T_NODE_ID: 'node-a', T_MAX_RETRIES: ' ' },
      { nodeId: 'ignored', maxRetries: 7 },
    );
    expect(settings).toEqual({
      nodeId: 'node-a',
      grpcListen: { host: '127.0.0.1', port: 50051 },
      maxRetries: 7,
      nats: ['nats://127.0.0.1:4222'],
      token: '',
    });
    expect(Object.isFrozen(settings)).toBe(true);
  });

  it('keeps port 0 (let the OS choose)', () => {
    expect(
      readSettings(spec, { T_NODE_ID: 'a', T_GRPC_LISTEN: '127.0.0.1:0' }).grpcListen.port,
    ).toBe(0);
  });

  it('names every bad key and value at once, and hides secrets', () => {
    const error = (() => {
      try {
        readSettings(
          spec,
          {
            T_GRPC_LISTEN: 'nowhere',
            T_MAX_RETRIES: '-1',
            T_NATS: 'http://x',
          },
          { colour: 'red', adminToken: ['hunter2'] },
        );
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toEqual([
      expect.stringContaining("unknown key 'colour'"),
      expect.stringContaining('T_NODE_ID'),
      'T_GRPC_LISTEN="nowhere": expected host:port, e.g. 127.0.0.1:50051',
      'T_MAX_RETRIES="-1": expected an integer from 0 to 100',
      'T_NATS="http://x": \'http://x\' must use nats://',
      'adminToken=<secret>: expected a string',
    ]);
  });
});
