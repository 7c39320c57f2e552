/**
 * The server of the memory-budget tests, in its own process so that its RSS is its own. Its
 * options come as JSON in argv[2]. It prints `{"port": n}` once listening, answers
 * `GET /__budget/closed` with the client ports of the connections closed so far (in the order
 * they closed), and stops with the test (child-server.ts).
 */
import { createHoldpushServer } from '../../lib/index';
import { serveAsChild } from './child-server';

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

serveAsChild(server, holdpush, 1024);
