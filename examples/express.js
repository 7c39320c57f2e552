'use strict';
// holdpush inside an Express app (Express 4 or 5), next to the app's own routes and body parsers.
//
//   npm install holdpush express
//   node examples/express.js       # then open http://127.0.0.1:3000/push/ (PORT, HOST to change)
const http = require('node:http');
const { createHoldpush } = require('holdpush');

/**
 * Starts the app on `port` (0: any free port). Resolves with its `url`, its holdpush (`push`)
 * and `close()`. `express` is the module to build it with (Express 4 or 5); `parsersFirst`
 * mounts the body parsers before holdpush; `holdpush` options go to createHoldpush.
 */
function start(port = 3000, { host = '127.0.0.1', express = require('express'), parsersFirst = false, holdpush: options } = {}) {
  const push = createHoldpush({ prefix: '/push', ...options });
  const app = express();
  const holdpush = (req, res, next) => push.handle(req, res) || next();
  const parsers = [express.json(), express.urlencoded({ extended: false }), express.raw()];
  // Before the parsers, holdpush reads its own request bodies: every publish works. After them
  // it still answers at once, with what they left on req.body: bytes (express.raw()), the
  // fields of a /send form; a /pub body that express.json() turned into an object is refused
  // (400 body_consumed), as /pub publishes the bytes that were sent.
  if (parsersFirst) app.use(parsers, holdpush);
  else app.use(holdpush, parsers);

  app.get('/', (req, res) => {
    res.type('html').send('<h1>My app</h1><p>Push pages: <a href="/push/">/push/</a></p>');
  });
  // The app publishes from its own code: the JSON that express.json() parsed, to "news".
  app.post('/api/news', (req, res, next) => {
    push.publish('news', JSON.stringify(req.body), { contentType: 'application/json' }).then((sent) => res.json(sent), next);
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

module.exports = { start };

if (require.main === module) {
  start(Number(process.env.PORT ?? 3000), { host: process.env.HOST }).then((app) => {
    console.log(`listening on ${app.url} (holdpush at ${app.url}/push/)`);
    const stop = () => app.close().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
