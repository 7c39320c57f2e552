/**
 * The server of test/soak.test.ts, in its own process (started with `node --expose-gc`), so
 * its heap is measured alone. It prints `{"port": n}` once listening, answers
 * `GET /__soak/memory` (after a full GC) with its memory, stats and open connections, and
 * exits when its standard input closes (so it never outlives the test).
 */
import type { AddressInfo } from 'node:net';
import { createHoldpushServer } from '../../lib/index';

const { server, holdpush } = createHoldpushServer({
  log: 'off',
  holdTimeout: 120,
  messageTtl: 0.5,
  maxSubscribers: 10_000,
});

const gc = (globalThis as { gc?: () => void }).gc;

server.on('request', (req, res) => {
  if (req.url !== '/__soak/memory') return;
  for (let i = 0; i < 3; i++) gc?.();
  const memory = process.memoryUsage();
  server.getConnections((error, connections) => {
    const body = JSON.stringify({ heapUsed: memory.heapUsed, rss: memory.rss, gc: gc !== undefined, connections: error ? -1 : connections, stats: holdpush.stats() });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
    res.end(body);
  });
});

function stop(): void {
  holdpush.close().finally(() => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
  setTimeout(() => process.exit(0), 2000).unref();
}

process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);

server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
