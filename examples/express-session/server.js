// An Express app whose own sessions decide who may listen and who may publish: express-session
// puts the user on req.session, and holdpush's `authorize` option reads it there, in process
// (no HTTP question, no tokens to mint). See docs/authorization.md.
//
//   npm install express express-session holdpush
//   SESSION_SECRET=... node server.js        (PORT=3000 by default)
//
//   POST /login  name=<name>         signs in (a demo: no password); the user `editor` may publish
//   POST /logout
//   GET  /push/sub/news              the news, for anyone signed in (long-poll, EventSource, batch)
//   GET  /push/?uid=<your name>      messages sent to you alone
//   POST /push/pub/news, /push/send  editors only
'use strict';
const express = require('express');
const session = require('express-session');
const { createHoldpush } = require('holdpush');

const push = createHoldpush({
  prefix: '/push',
  log: 'off',
  // Asked before every subscription and every publish; req is the request Express handed on,
  // so req.session is already there.
  authorize({ op, channels, req }) {
    const user = req.session.user;
    if (user === undefined) return { status: 401, message: 'sign in first (POST /login)' };
    if (op === 'publish') return user.editor ? true : { status: 403, message: 'only editors publish' };
    // Channels come by name; the uid face's as uid:<uid>.
    const allowed = channels.every((channel) => channel === 'news' || channel === `uid:${user.name}`);
    return allowed ? true : { status: 403, message: `${user.name} may read news and uid:${user.name}` };
  },
});

const app = express();
app.use(session({ secret: process.env.SESSION_SECRET || 'not a secret: set SESSION_SECRET', resave: false, saveUninitialized: false }));
// After the session (authorize reads it), before any body parser (holdpush reads its own bodies).
app.use((req, res, next) => push.handle(req, res) || next());

app.post('/login', express.urlencoded({ extended: false }), (req, res) => {
  const name = String(req.body.name || '');
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
    res.status(400).json({ error: 'bad_name', message: 'a name is 1-64 of A-Z a-z 0-9 _ -' });
    return;
  }
  // A new session id at sign-in, so a session id planted before it is worth nothing after.
  req.session.regenerate((error) => {
    if (error) {
      res.status(500).json({ error: 'internal', message: 'no session' });
      return;
    }
    req.session.user = { name, editor: name === 'editor' };
    res.json({ name });
  });
});

app.post('/logout', (req, res) => {
  req.session.destroy(() => res.status(204).end());
});

const server = app.listen(Number(process.env.PORT || 3000), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

process.on('SIGTERM', () => {
  push.close().then(() => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
  });
});
