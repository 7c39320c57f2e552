#!/usr/bin/env node
'use strict';
// The app a feature variant of `npm run bench` talks to (scripts/bench-variants.js): the
// `--auth-url` app that says yes to every question and the `--webhook-url` receiver of occupancy
// events. It answers every request 204 once its body is read, over keep-alive, and prints
// `listening on http://127.0.0.1:<port>` like the servers. `GET /count` answers how many
// requests each path had, to show that the server did ask. It runs on the load core.
//
//   node scripts/bench-app.js [--port 0]
const http = require('node:http');

const at = process.argv.indexOf('--port');
const port = at > 0 ? Number(process.argv[at + 1]) || 0 : 0;
const counts = {};

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/count') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(counts));
    return;
  }
  const key = req.url.split('?')[0];
  counts[key] = (counts[key] || 0) + 1;
  req.resume();
  req.on('end', () => {
    res.writeHead(204);
    res.end();
  });
});
server.keepAliveTimeout = 60000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`bench-app listening on http://127.0.0.1:${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
