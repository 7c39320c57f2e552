'use strict';
// The load side of `npm run bench -- --vs socketio`: Socket.IO subscribers speaking Engine.IO
// v4 / Socket.IO v5 long-polling over the load generator's raw keep-alive sockets (a
// socket.io-client per subscriber would make the load generator the limit). Each subscriber
// has one connection and uses it in turn, as a browser's single poll connection would:
//   GET  <subPath>                   handshake: 0{"sid":...}
//   POST <subPath>&sid=<sid>  40     namespace connect (the server answers `ok`; the poll
//                                    that follows brings the 40{...} acknowledgement)
//   GET  <subPath>&sid=<sid>         a poll: held until packets are queued, then every packet
//                                    queued since the last poll, separated by \x1e
//   POST ...  3                      the answer to a ping (2), before the next poll
//   POST ...  1                      close, when the job ends (behind a held poll, if any)
// A message is 42["message","<body>"]: its `#<seq>#` marker is counted like every target's.
// A session whose poll connection closes is over for Engine.IO (it would reconnect as a new
// session and miss what came between), so a closed connection is not reopened: what it
// missed shows as lost.
const { Conn, subRequest, pubRequest, eachSeq } = require('./bench-lib.js');

const SID = /"sid"\s*:\s*"([^"]+)"/;

/** True when the \x1e-separated payload has a packet starting with `prefix`. */
function hasPacket(body, prefix) {
  return body.startsWith(prefix) || body.includes('\x1e' + prefix);
}

/**
 * The same interface as bench-load.js's subscribers (subs, make, poll, stop, stats):
 * onMessage(u, seq) per marker, policy(u) after a poll that brought messages ('now' polls
 * again at once, anything else leaves u idle until poll(u)). A poll that brought no message
 * (the connect acknowledgement, a ping) is followed by the next at once.
 */
function makeSubscribers(job, subPath, opts) {
  const stats = { statuses: {}, errors: 0, repolls: 0, responses: 0, pings: 0, closed: 0 };
  const subs = [];
  let running = true;

  function send(u, what) {
    u.pending = what;
    u.outstanding++;
    u.conn.write(what === 'poll' ? u.pollBytes : what === 'pong' ? u.pongBytes : u.connectBytes);
  }

  function onPoll(u, body) {
    stats.responses++;
    if (hasPacket(body, '1') || hasPacket(body, '41') || hasPacket(body, '44')) {
      stats.errors++; // closed or refused by the server: this session is over
      u.pending = null;
      u.idle = true;
      return;
    }
    const messages = eachSeq(body, (k) => opts.onMessage(u, k));
    const again = running && (messages === 0 || opts.policy(u) === 'now');
    if (!again) u.idle = true;
    if (hasPacket(body, '2')) {
      stats.pings++;
      u.wantPoll = again;
      send(u, 'pong');
    } else if (again) send(u, 'poll');
    else u.pending = null;
  }

  function make(i) {
    // outstanding: requests written and not answered yet (a pong and the close may be in flight).
    const u = { i, conn: null, sid: null, pending: null, outstanding: 0, closing: false, wantPoll: false, idle: false, got: 0, last: 0, done: 0 };
    u.conn = new Conn({
      host: job.host,
      port: job.port,
      localAddress: job.localAddress,
      onConnect: (c) => {
        u.pending = 'handshake';
        u.outstanding++;
        c.write(subRequest(subPath, null, null));
      },
      onResponse: (c, res) => {
        u.outstanding--;
        if (u.closing) {
          // stop(): the connection goes once the close packet (the last request) is answered.
          if (u.outstanding <= 0) c.destroy();
          return;
        }
        if (res.status !== 200) {
          stats.statuses[res.status] = (stats.statuses[res.status] || 0) + 1;
          stats.errors++;
          u.pending = null;
          u.idle = true;
          return;
        }
        const was = u.pending;
        if (was === 'poll') return onPoll(u, res.body);
        if (was === 'handshake') {
          const m = SID.exec(res.body);
          if (!m) {
            stats.errors++;
            u.pending = null;
            u.idle = true;
            return;
          }
          u.sid = m[1];
          const path = subPath + '&sid=' + encodeURIComponent(u.sid);
          u.pollBytes = subRequest(path, null, null);
          u.pongBytes = pubRequest(path, '3');
          u.connectBytes = pubRequest(path, '40');
          u.closeBytes = pubRequest(path, '1');
          return send(u, 'connect');
        }
        // `ok` to a POST: the namespace connect, or a pong.
        if (was === 'connect' || u.wantPoll) {
          u.wantPoll = false;
          if (running) return send(u, 'poll');
        }
        u.pending = null;
      },
      onClose: () => {
        if (running) stats.closed++;
      },
    });
    subs.push(u);
    return u.conn;
  }

  function poll(u) {
    u.idle = false;
    if (u.conn.closed || !u.sid) return;
    if (u.pending === 'pong') u.wantPoll = true;
    else if (u.pending === null) {
      stats.repolls++;
      send(u, 'poll');
    }
  }

  function stop() {
    running = false;
    for (const u of subs) {
      if (u.conn.closed) continue;
      if (u.closing) continue;
      // A dropped connection ends the session only while the server holds its poll, and a poll
      // may be on its way back: the server would keep the session until its ping timeout. A
      // close packet ends it either way (a held poll is answered with it); the connection goes
      // once everything on it is answered.
      if (u.sid) {
        u.closing = true;
        u.outstanding++;
        u.conn.write(u.closeBytes);
      } else u.conn.destroy();
    }
  }

  return { subs, make, poll, stop, stats };
}

module.exports = { makeSubscribers };
