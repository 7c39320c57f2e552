#!/usr/bin/env node
'use strict';
// The floor for `npm run bench`: the smallest node:http long-poll server that can run the same
// workloads as holdpush. A Map of held responses per channel, written and ended on publish.
// No ids, no buffer, no timeouts, no limits, no safety: every feature holdpush has costs
// against this. Only for the benchmark; it listens on 127.0.0.1 by default.
//
//   node scripts/bench-baseline-server.js [--port 0] [--host 127.0.0.1]
//   GET  /sub/<ch>   held until the next publish (Accept: text/event-stream: a stream instead)
//   POST /pub/<ch>   writes the body to every held response; 201 if any, else 202
//   GET  /pub/<ch>   {"subscribers": <held long-polls + streams>}
const http = require('node:http');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

const held = new Map(); // channel -> Set of ServerResponse (long-polls)
const streams = new Map(); // channel -> Set of ServerResponse (EventSource)

function forget() {
  this._set.delete(this);
}

function channelOf(url, prefix) {
  const q = url.indexOf('?');
  return url.slice(prefix.length, q < 0 ? url.length : q);
}

const server = http.createServer((req, res) => {
  const url = req.url;
  if (req.method === 'GET' && url.startsWith('/sub/')) {
    const ch = channelOf(url, '/sub/');
    const sse = (req.headers.accept || '').includes('text/event-stream');
    const map = sse ? streams : held;
    let set = map.get(ch);
    if (!set) map.set(ch, (set = new Set()));
    set.add(res);
    res._set = set;
    res.on('close', forget);
    if (sse) {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write(':\n\n');
    }
    return;
  }
  if (url.startsWith('/pub/')) {
    const ch = channelOf(url, '/pub/');
    if (req.method === 'GET') {
      const n = (held.get(ch)?.size || 0) + (streams.get(ch)?.size || 0);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ subscribers: n }));
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const type = req.headers['content-type'] || 'text/plain';
      let n = 0;
      const set = held.get(ch);
      if (set) {
        held.delete(ch);
        for (const r of set) {
          r.removeListener('close', forget);
          r.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length });
          r.end(body);
          n++;
        }
      }
      const ss = streams.get(ch);
      if (ss) {
        const ev = 'data: ' + body.toString().split('\n').join('\ndata: ') + '\n\n';
        for (const r of ss) {
          r.write(ev);
          n++;
        }
      }
      res.writeHead(n ? 201 : 202, { 'Content-Type': 'text/plain' });
      res.end('delivered: ' + n + '\n');
    });
    return;
  }
  res.writeHead(404);
  res.end();
});

server.listen(Number(arg('--port', '0')), arg('--host', '127.0.0.1'), () => {
  const a = server.address();
  process.stdout.write(`baseline listening on http://${a.address}:${a.port}\n`);
});
function stop() {
  server.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
