'use strict';
// holdpush inside a plain node:http app: CommonJS, no framework, no build step.
//
//   npm install holdpush
//   node examples/http.js          # then open http://127.0.0.1:3000/push/ (PORT, HOST to change)
const http = require('node:http');
const { createHoldpush } = require('holdpush');

/** The app's own JSON body (holdpush reads its own bodies). */
function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}

/**
 * Starts the app on `port` (0: any free port). Resolves with its `url`, its holdpush (`push`)
 * and `close()`. `holdpush` options go to createHoldpush.
 */
function start(port = 3000, { host = '127.0.0.1', holdpush: options } = {}) {
  const push = createHoldpush({ prefix: '/push', ...options });
  const server = http.createServer((req, res) => {
    // true: a route of holdpush under /push, answered (or held until a message comes).
    if (push.handle(req, res)) return;
    if (req.method === 'GET' && req.url === '/') {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end('<h1>My app</h1><p>Push pages: <a href="/push/">/push/</a></p>');
      return;
    }
    if (req.method === 'POST' && req.url === '/api/news') {
      // The app publishes from its own code: JSON text, sent to every subscriber of "news".
      readJson(req)
        .then((news) => push.publish('news', JSON.stringify(news), { contentType: 'application/json' }))
        .then((sent) => {
          res.setHeader('Content-Type', 'application/json');
          res.end(JSON.stringify(sent));
        })
        .catch((error) => {
          res.statusCode = error instanceof SyntaxError ? 400 : 500;
          res.end(String(error.message));
        });
      return;
    }
    res.statusCode = 404;
    res.end('not found');
  });
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
