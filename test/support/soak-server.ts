/**
 * The server of test/soak.test.ts, in its own process (started with `node --expose-gc`), so
 * its heap is measured alone. It prints `{"port": n}` once listening, answers
 * `GET /__soak/memory` (after a full GC) with its memory, stats and open connections, and
 * stops with the test (child-server.ts).
 */
import { createHoldpushServer } from '../../lib/index';
import { serveAsChild } from './child-server';

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

serveAsChild(server, holdpush, 4096);
