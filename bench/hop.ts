// The internal hop (router → node) on its own: which transport costs the least CPU per call?
//
//   npm run bench:hop
//
// An echo server in a child process answers a 300-byte request with its bytes, over
//   grpc_unary   one grpc-js unary call per request (raw bytes, no protobuf);
//   grpc_stream  one long-lived grpc-js bidi stream, requests tagged with an id;
//   nats         NATS request-reply on the server's own subject (core NATS, no JetStream).
// The client (this process) keeps 32 requests in flight for BENCH_ROUND_MS per round,
// transports interleaved round by round. Prints calls/s and the CPU per call of the
// client, the server and nats-server (from /proc), as a table and one JSON line per case.
// Environment: BENCH_ROUNDS (default 3), BENCH_ROUND_MS (2000).
import { fork } from 'node:child_process';
import type { ServiceError } from '@grpc/grpc-js';
import * as grpc from '@grpc/grpc-js';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import { freePort, startNatsServer } from '@tenantfold/testkit';
import { median, ROUND_MS, ROUNDS } from './lib.js';
import { cpuMsOf } from './process.js';

const IN_FLIGHT = 32;
const REQUEST = new Uint8Array(300).fill(97);
const SUBJECT = 'bench.hop.echo';
const TRANSPORTS = ['grpc_unary', 'grpc_stream', 'nats'] as const;
type Transport = (typeof TRANSPORTS)[number];

const raw = {
  serialize: (value: Buffer) => value,
  deserialize: (bytes: Buffer) => bytes,
};
const ECHO: grpc.ServiceDefinition = {
  Call: {
    path: '/bench.Hop/Call',
    requestStream: false,
    responseStream: false,
    requestSerialize: raw.serialize,
    requestDeserialize: raw.deserialize,
    responseSerialize: raw.serialize,
    responseDeserialize: raw.deserialize,
  },
  Stream: {
    path: '/bench.Hop/Stream',
    requestStream: true,
    responseStream: true,
    requestSerialize: raw.serialize,
    requestDeserialize: raw.deserialize,
    responseSerialize: raw.serialize,
    responseDeserialize: raw.deserialize,
  },
};

/** The child: echoes over gRPC (unary and stream) and NATS until killed. */
async function serve(grpcPort: number, natsUrl: string): Promise<void> {
  const server = new grpc.Server();
  server.addService(ECHO, {
    Call: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) =>
      done(null, call.request),
    Stream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (message: Buffer) => call.write(message));
      call.on('end', () => call.end());
    },
  });
  await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${grpcPort}`, grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  const nc = await connect({ servers: natsUrl });
  nc.subscribe(SUBJECT, {
    callback: (_error, message) => {
      message.respond(message.data);
    },
  });
  await nc.flush();
  process.send?.('ready');
}

type Call = () => Promise<unknown>;

function grpcUnary(port: number): { call: Call; close(): void } {
  const Client = grpc.makeGenericClientConstructor(ECHO, 'Hop');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as {
    Call(r: Buffer, cb: (e: ServiceError | null, v?: Buffer) => void): void;
    close(): void;
  };
  const request = Buffer.from(REQUEST);
  return {
    call: () =>
      new Promise((resolve, reject) =>
        client.Call(request, (error, value) => (error ? reject(error) : resolve(value))),
      ),
    close: () => client.close(),
  };
}

function grpcStream(port: number): { call: Call; close(): void } {
  const Client = grpc.makeGenericClientConstructor(ECHO, 'Hop');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as {
    Stream(): grpc.ClientDuplexStream<Buffer, Buffer>;
    close(): void;
  };
  const stream = client.Stream();
  stream.on('error', () => undefined); // the server is killed at the end
  const waiting = new Map<number, (value: Buffer) => void>();
  stream.on('data', (message: Buffer) => {
    const id = message.readUInt32BE(0);
    waiting.get(id)?.(message);
    waiting.delete(id);
  });
  let next = 0;
  return {
    call: () =>
      new Promise((resolve) => {
        const id = next++ >>> 0;
        const message = Buffer.allocUnsafe(4 + REQUEST.length);
        message.writeUInt32BE(id, 0);
        message.set(REQUEST, 4);
        waiting.set(id, resolve);
        stream.write(message);
      }),
    close: () => {
      stream.end();
      client.close();
    },
  };
}

function natsRequest(nc: NatsConnection): { call: Call; close(): void } {
  return {
    call: () => nc.request(SUBJECT, REQUEST, { timeout: 5_000 }),
    close: () => undefined,
  };
}

async function loop(call: Call, ms: number): Promise<number> {
  let calls = 0;
  const until = performance.now() + ms;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < until) {
        await call();
        calls++;
      }
    }),
  );
  return calls;
}

const selfCpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1_000;
};

async function main(): Promise<void> {
  if (process.argv[2] === 'serve') {
    await serve(Number(process.argv[3]), process.argv[4]!);
    return;
  }
  const nats = await startNatsServer();
  const grpcPort = await freePort();
  const child = fork(new URL(import.meta.url).pathname, ['serve', String(grpcPort), nats.url], {
    execArgv: ['--import', 'tsx'],
  });
  await new Promise<void>((resolve) => child.once('message', () => resolve()));
  const nc = await connect({ servers: nats.url });
  const clients: Record<Transport, { call: Call; close(): void }> = {
    grpc_unary: grpcUnary(grpcPort),
    grpc_stream: grpcStream(grpcPort),
    nats: natsRequest(nc),
  };
  for (const transport of TRANSPORTS) await loop(clients[transport].call, 300); // warm up
  const rounds = new Map<Transport, Array<Record<string, number>>>();
  for (let r = 0; r < ROUNDS; r++) {
    for (const transport of TRANSPORTS) {
      const before = { client: selfCpuMs(), server: cpuMsOf(child.pid!), nats: cpuMsOf(nats.pid!) };
      const calls = await loop(clients[transport].call, ROUND_MS);
      const us = (key: keyof typeof before, now: number) => ((now - before[key]) * 1_000) / calls;
      rounds.set(transport, [
        ...(rounds.get(transport) ?? []),
        {
          per_s: (calls * 1_000) / ROUND_MS,
          client_us: us('client', selfCpuMs()),
          server_us: us('server', cpuMsOf(child.pid!)),
          nats_us: us('nats', cpuMsOf(nats.pid!)),
        },
      ]);
    }
  }
  const rows = TRANSPORTS.map((transport) => {
    const all = rounds.get(transport)!;
    const of = (key: string) => Math.round(median(all.map((round) => round[key]!)));
    return {
      case: 'hop',
      transport,
      in_flight: IN_FLIGHT,
      per_s: of('per_s'),
      client_us: of('client_us'),
      server_us: of('server_us'),
      nats_us: of('nats_us'),
      total_us: of('client_us') + of('server_us') + of('nats_us'),
    };
  });
  console.log(
    `transport     calls/s  client µs  server µs  nats µs  total µs   (${IN_FLIGHT} in flight, medians of ${ROUNDS} rounds)`,
  );
  for (const row of rows) {
    console.log(
      `${row.transport.padEnd(12)} ${String(row.per_s).padStart(8)} ${String(row.client_us).padStart(10)} ${String(row.server_us).padStart(10)} ${String(row.nats_us).padStart(8)} ${String(row.total_us).padStart(9)}`,
    );
  }
  for (const row of rows) console.log(JSON.stringify(row));
  for (const client of Object.values(clients)) client.close();
  await nc.close();
  child.kill();
  await nats.stop();
}

await main();
