#!/usr/bin/env node
'use strict';
// Socket.IO for `npm run bench -- --vs socketio`: its long-polling transport only, one process,
// the in-memory adapter, default ping settings (the bench's; a test shortens them to see pings
// answered). A subscriber names its channel in the handshake
// query and joins the room of that name; a publish is an HTTP request to the same server.
// Only for the benchmark; it listens on 127.0.0.1 by default.
//
//   node scripts/bench-socketio-server.js [--port 0] [--host 127.0.0.1] [--ping-interval 25000]
//        [--ping-timeout 20000]
//   /socket.io/?EIO=4&transport=polling&channel=<ch>   Engine.IO v4 / Socket.IO v5 polling
//   POST /pub/<ch>   io.to(ch).emit('message', body); 201 if the room has anyone, else 202
//   GET  /pub/<ch>   {"subscribers": n, "sockets": m}: n sockets of the room have their poll
//                    held right now, of m in it
const http = require('node:http');
const { Server } = require('socket.io');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

function channelOf(url) {
  const q = url.indexOf('?');
  return decodeURIComponent(url.slice('/pub/'.length, q < 0 ? url.length : q));
}

// Socket.IO answers its own path before this handler runs (it takes over 'request').
const server = http.createServer((req, res) => {
  if (!req.url.startsWith('/pub/')) {
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end('{"error":"not_found","message":"no such path"}');
    return;
  }
  const ch = channelOf(req.url);
  const room = nsp.adapter.rooms.get(ch);
  if (req.method === 'GET') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ subscribers: held(room), sockets: room ? room.size : 0 }));
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const n = room ? room.size : 0;
    io.to(ch).emit('message', Buffer.concat(chunks).toString());
    res.writeHead(n ? 201 : 202, { 'Content-Type': 'text/plain' });
    res.end('delivered: ' + n + '\n');
  });
});

const pingInterval = Number(arg('--ping-interval', '25000'));
const pingTimeout = Number(arg('--ping-timeout', '20000'));
const io = new Server(server, { transports: ['polling'], serveClient: false, pingInterval, pingTimeout });
const nsp = io.of('/');

io.on('connection', (socket) => {
  const ch = socket.handshake.query.channel;
  if (typeof ch === 'string' && ch) socket.join(ch);
  else socket.disconnect(true);
});

/**
 * Held = the socket's poll request is pending with nothing to write (Engine.IO's polling
 * transport is `writable` exactly then), as a held long-poll is for the other servers.
 * O(room size) per call: the load asks only between steps.
 */
function held(room) {
  if (!room) return 0;
  let n = 0;
  for (const id of room) {
    const s = nsp.sockets.get(id);
    if (s && s.conn.transport.writable) n++;
  }
  return n;
}

server.listen(Number(arg('--port', '0')), arg('--host', '127.0.0.1'), () => {
  const a = server.address();
  process.stdout.write(`socketio listening on http://${a.address}:${a.port}\n`);
});
function stop() {
  io.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
