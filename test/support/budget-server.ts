/**
 * The server of the memory-budget tests, in its own process so that its RSS is its own. Its
 * options come as JSON in argv[2]. It prints `{"port": n}` once listening, answers
 * `GET /__budget/closed` with the client ports of the connections closed so far (in the order
 * they closed), and exits when its standard input closes (so it never outlives the test).
 */
import type { AddressInfo } from 'node:net';
import { createHoldpushServer } from '../../lib/index';

const { server, holdpush } = createHoldpushServer({ log: 'off', ...(JSON.parse(process.argv[2] ?? '{}') as object) });

const closed: number[] = [];
server.on('connection', (socket) => {
  const port = socket.remotePort ?? 0;
  socket.once('close', () => closed.push(port));
});

server.on('request', (req, res) => {
  if (req.url !== '/__budget/closed') return;
  const body = JSON.stringify(closed);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
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

server.listen({ port: 0, host: '127.0.0.1', backlog: 1024 }, () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
