'use strict';
// holdpush inside a Fastify app (Fastify 4 or 5), next to the app's own routes.
//
//   npm install holdpush fastify
//   node examples/fastify.js       # then open http://127.0.0.1:3000/push/ (PORT, HOST to change)
const Fastify = require('fastify');
const { createHoldpush } = require('holdpush');

/**
 * Starts the app on `port` (0: any free port). Resolves with its `url`, its holdpush (`push`)
 * and `close()`. `holdpush` options go to createHoldpush.
 */
async function start(port = 3000, { host = '127.0.0.1', holdpush: options } = {}) {
  const push = createHoldpush({ prefix: '/push', ...options });
  const app = Fastify();
  // Fastify reads every body before a route's handler runs, so holdpush goes in an onRequest
  // hook, before that: it reads its own bodies and answers on the Node response (now, or when
  // a message comes); hijack() tells Fastify that the answer is not its to send.
  app.addHook('onRequest', (request, reply, done) => {
    if (push.handle(request.raw, reply.raw)) reply.hijack();
    else done();
  });

  app.get('/', async (request, reply) => {
    reply.type('text/html; charset=utf-8');
    return '<h1>My app</h1><p>Push pages: <a href="/push/">/push/</a></p>';
  });
  // The app publishes from its own code: the JSON that Fastify parsed, to "news".
  app.post('/api/news', async (request) => push.publish('news', JSON.stringify(request.body), { contentType: 'application/json' }));

  await app.listen({ port, host });
  async function close() {
    await push.close(); // answers the held requests, so the server can close
    await app.close();
  }
  return { url: `http://${host}:${app.server.address().port}`, push, close };
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
