'use strict';
// An Express app whose own sessions decide who may listen and who may publish: express-session
// puts the user on req.session, and holdpush's `authorize` option reads it there, in process
// (no HTTP question, no token to mint). docs/authorization.md explains the option.
//
//   npm install holdpush express express-session
//   SESSION_SECRET=... node examples/express-session/server.js   (PORT, HOST to change)
//
//   POST /login  name=<name>         signs in (a demo: no password); the user `editor` may publish
//   POST /logout
//   GET  /push/sub/news              the news, for anyone signed in (long-poll, EventSource, batch)
//   GET  /push/?uid=<your name>      messages sent to you alone
//   POST /push/pub/news, /push/send  editors only
const http = require('node:http');
const express = require('express');
const session = require('express-session');
const { createHoldpush } = require('holdpush');

/**
 * Asked before every subscription and every publish. `req` is the request as Express handed it
 * on, so express-session has already put the session there. Channels come by name, the uid
 * face's as `uid:<uid>`.
 */
function authorize({ op, channels, req }) {
  const user = req.session.user;
  if (user === undefined) return { status: 401, message: 'sign in first (POST /login)' };
  if (op === 'publish') return user.editor ? true : { status: 403, message: 'only editors publish' };
  const allowed = channels.every((channel) => channel === 'news' || channel === `uid:${user.name}`);
  return allowed ? true : { status: 403, message: `${user.name} may read news and uid:${user.name}` };
}

/** Starts the app on `port` (0: any free port); resolves with its `url`, its holdpush (`push`) and `close()`. */
function start(port = 3000, { host = '127.0.0.1', secret = process.env.SESSION_SECRET || 'not a secret: set SESSION_SECRET' } = {}) {
  const push = createHoldpush({ prefix: '/push', authorize });
  const app = express();
  app.use(session({ secret, resave: false, saveUninitialized: false }));
  // After the session (authorize reads it), before any body parser (holdpush reads its own bodies).
  app.use((req, res, next) => push.handle(req, res) || next());

  app.post('/login', express.urlencoded({ extended: false }), (req, res, next) => {
    const name = String(req.body.name || '');
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
      res.status(400).json({ error: 'bad_name', message: 'a name is 1-64 of A-Z a-z 0-9 _ -' });
      return;
    }
    // A new session id at sign-in, so that one planted before it is worth nothing after.
    req.session.regenerate((error) => {
      if (error) return next(error);
      req.session.user = { name, editor: name === 'editor' };
      res.json({ name });
    });
  });
  app.post('/logout', (req, res, next) => {
    req.session.destroy((error) => (error ? next(error) : res.status(204).end()));
  });

  const server = http.createServer(app);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const url = `http://${host}:${server.address().port}`;
      async function close() {
        await push.close(); // answers the held requests, so the server can close
        server.closeIdleConnections();
        await new Promise((done) => server.close(done));
      }
      resolve({ url, push, close });
    });
  });
}

module.exports = { start, authorize };

if (require.main === module) {
  start(Number(process.env.PORT ?? 3000), { host: process.env.HOST }).then((app) => {
    console.log(`listening on ${app.url} (holdpush at ${app.url}/push/)`);
    const stop = () => app.close().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
