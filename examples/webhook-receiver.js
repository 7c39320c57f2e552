'use strict';
// A receiver of holdpush's occupancy webhook in Express (4 or 5): it checks each delivery's
// signature, handles each delivery id once, and keeps who is online.
//
//   npm install express
//   WEBHOOK_SECRET=a-long-shared-secret node examples/webhook-receiver.js    # on http://127.0.0.1:4000
//   holdpush --webhook-url http://127.0.0.1:4000/holdpush/events --webhook-secret a-long-shared-secret
//   curl http://127.0.0.1:4000/online                                        # the occupied channels
const crypto = require('node:crypto');
const http = require('node:http');

/** Whether `header` is `sha256=<hex HMAC-SHA256 of the exact body bytes>` under `secret`. */
function signedBy(secret, body, header) {
  const expected = Buffer.from(`sha256=${crypto.createHmac('sha256', secret).update(body).digest('hex')}`);
  const given = Buffer.from(typeof header === 'string' ? header : '');
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

/** Delivery ids remembered: a retry whose first try did arrive comes again with the same id. */
const SEEN_LIMIT = 10000;

/**
 * Starts the receiver on `port` (0: any free port). Resolves with its `url`, `online()` (the
 * channels occupied now; a person is `uid:<uid>`) and `close()`. `onDelivery(delivery)` hears
 * every new delivery ({ id, events }), in the order they come.
 */
function start(port = 4000, { host = '127.0.0.1', secret = process.env.WEBHOOK_SECRET, express = require('express'), onDelivery = () => {} } = {}) {
  if (typeof secret !== 'string' || secret === '') throw new TypeError('the receiver needs the secret holdpush signs with (WEBHOOK_SECRET)');
  const app = express();
  const seen = new Set();
  const online = new Set();

  // The signature covers the exact bytes: read them raw, and parse only once they are checked.
  app.post('/holdpush/events', express.raw({ type: 'application/json', limit: '1mb' }), (req, res) => {
    if (!Buffer.isBuffer(req.body) || !signedBy(secret, req.body, req.get('X-Holdpush-Signature'))) {
      res.status(401).json({ error: 'bad_signature', message: 'X-Holdpush-Signature does not match the body' });
      return;
    }
    const delivery = JSON.parse(req.body.toString('utf8'));
    if (!seen.has(delivery.id)) {
      seen.add(delivery.id);
      if (seen.size > SEEN_LIMIT) seen.delete(seen.values().next().value);
      for (const event of delivery.events) {
        if (event.type === 'channel.occupied') online.add(event.channel);
        else online.delete(event.channel);
      }
      onDelivery(delivery);
    }
    // Any 2xx: holdpush sends the next delivery. Anything else, and it tries this one again.
    res.status(204).end();
  });
  app.get('/online', (req, res) => {
    res.json([...online]);
  });

  const server = http.createServer(app);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const url = `http://${host}:${server.address().port}`;
      function close() {
        server.closeAllConnections();
        return new Promise((done) => server.close(done));
      }
      resolve({ url, online: () => [...online], close });
    });
  });
}

module.exports = { start, signedBy };

if (require.main === module) {
  start(Number(process.env.PORT ?? 4000), { host: process.env.HOST }).then((receiver) => {
    console.log(`listening on ${receiver.url} (deliveries to ${receiver.url}/holdpush/events)`);
    const stop = () => receiver.close().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
