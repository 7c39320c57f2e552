'use strict';
// holdpush inside a Koa app, next to the app's own routes and @koa/bodyparser.
//
//   npm install holdpush koa @koa/bodyparser
//   node examples/koa.js           # then open http://127.0.0.1:3000/push/ (PORT, HOST to change)
const http = require('node:http');
const Koa = require('koa');
const { bodyParser } = require('@koa/bodyparser');
const { createHoldpush } = require('holdpush');

/**
 * Starts the app on `port` (0: any free port). Resolves with its `url`, its holdpush (`push`)
 * and `close()`. `parsersFirst` mounts the body parser before holdpush; `holdpush` options go
 * to createHoldpush.
 */
function start(port = 3000, { host = '127.0.0.1', parsersFirst = false, holdpush: options } = {}) {
  const push = createHoldpush({ prefix: '/push', ...options });
  const app = new Koa();
  async function holdpush(ctx, next) {
    // holdpush answers on the Node response (now, or when a message comes): Koa leaves it be.
    if (push.handle(ctx.req, ctx.res)) ctx.respond = false;
    else await next();
  }
  // Before the parser, holdpush reads its own request bodies: every publish works. After it,
  // holdpush answers at once with what the parser left on the Node request (patchNode puts it
  // there): the fields of a /send form; a /pub body parsed into an object is refused (400
  // body_consumed), as /pub publishes the bytes that were sent.
  const parser = bodyParser({ patchNode: true });
  if (parsersFirst) app.use(parser).use(holdpush);
  else app.use(holdpush).use(parser);

  app.use(async (ctx) => {
    if (ctx.method === 'GET' && ctx.path === '/') {
      ctx.type = 'html';
      ctx.body = '<h1>My app</h1><p>Push pages: <a href="/push/">/push/</a></p>';
    } else if (ctx.method === 'POST' && ctx.path === '/api/news') {
      // The app publishes from its own code: the JSON that the parser read, to "news".
      ctx.body = await push.publish('news', JSON.stringify(ctx.request.body), { contentType: 'application/json' });
    }
  });

  const server = http.createServer(app.callback());
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
