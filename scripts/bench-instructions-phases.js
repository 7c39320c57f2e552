'use strict';
// Workloads of scripts/bench-instructions.js beside its default one, each the cost of one path:
// `pub` the one-message publish (W3 with one batch subscriber is bound by it), `batch` W3's
// batch subscribers (`Accept: application/json`, re-polling with `last_event_id`). Each takes
// the tool's request function and size, and says how many units its count is divided by.

/** Publishes `count` messages `#k#` (k from `from`), 8 in flight, to `channel`. */
async function publishStream(request, channel, from, count) {
  let next = from;
  const last = from + count - 1;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next <= last) {
        const k = next++;
        const res = await request('POST', `/pub/${channel}`, { 'content-type': 'text/plain' }, `#${k}#`.padEnd(64, '.'));
        if (res.status !== 201 && res.status !== 202) throw new Error(`/pub/${channel}: ${res.status}`);
      }
    })
  );
}

/** Batch subscribers on `channel`, each re-polling from `position` until it has read message `want`. */
function batchSubscribers(request, channel, count, position, want) {
  const got = new Array(count).fill(0);
  const done = got.map(async (_, i) => {
    let last = position;
    for (let polls = 0; got[i] < want; polls++) {
      if (polls > want + 10) throw new Error(`/sub/${channel}: more polls than messages`);
      const res = await request('GET', `/sub/${channel}?last_event_id=${encodeURIComponent(last)}`, { accept: 'application/json' });
      if (res.status !== 200) throw new Error(`/sub/${channel}: ${res.status}`);
      const body = JSON.parse(res.body);
      got[i] += body.messages.length;
      last = body.last;
    }
  });
  return Promise.all(done);
}

const PHASES = {
  /** 5P one-message publishes to a channel no one holds (202): the publish path alone, enough of them to stand out of the start-up's spread. */
  pub: {
    unit: 'publish',
    units: (size) => 5 * size.p,
    async run(request, size) {
      await publishStream(request, 'pub', 1, 5 * size.p);
    },
  },
  /** S batch subscribers re-polling while P messages are published, 8 in flight. */
  batch: {
    unit: 'delivery',
    units: (size) => size.s * size.p,
    async run(request, size) {
      await publishStream(request, 'w3b', 0, 1);
      const first = await request('GET', '/sub/w3b', { accept: 'application/json' });
      const position = JSON.parse(first.body).last;
      const subscribers = batchSubscribers(request, 'w3b', size.s, position, size.p);
      await publishStream(request, 'w3b', 1, size.p);
      await subscribers;
    },
  },
};

module.exports = { PHASES };
