'use strict';
// W6 of `npm run bench`: a W3 stream of 100,000 messages that holdpush gets published in
// batches (`POST /pub` with {"messages": [...]}), read by batch subscribers. Nchan has no batch
// publish: it gets W3's one-message publishes on the same count, read by its multipart
// subscribers. holdpush's own one-message publishes on that count are the row beside it.

const BATCH = 100;
// Batches in flight at once. W3 keeps 64 single publishes in flight so that node:http's cost
// per request, not the round trip, bounds the publisher; a batch of 100 already carries 100
// messages per request, so 8 of them (800 messages) keep the server's publish path busy while
// it parses the next one. More only queue batches ahead of the subscribers: the window below
// would hold them back anyway. Configurable for the question (`--batch-inflight`).
const INFLIGHT = 8;
const SINGLE_INFLIGHT = 64; // W3's
// No subscriber may fall more than this many messages behind the publishers: the servers keep
// 10,000 per channel (`--buffer 10000`, `nchan_message_buffer_length 10000`), and 100,000
// published as fast as possible would otherwise drop what a slow subscriber had not read yet.
// Half the buffer leaves room for the messages in flight. Applied to every server alike. The
// smoke run's is small so that its 1,000 messages go through the held-back path too.
const WINDOW = 5000;

const SIZES = {
  full: { subs: [1, 100], messages: 100000, warmup: 20000, window: WINDOW },
  quick: { subs: [1, 100], messages: 100000, warmup: 20000, window: WINDOW },
  smoke: { subs: [1, 4], messages: 1000, warmup: 200, window: 300 },
};

// Minutes W6 adds to the orchestrator's watchdog.
const WATCHDOG_MIN = { full: 20, quick: 20, smoke: 2 };

const METRICS = [
  ['msgs/s per subscriber', (r) => r.msgsPerSecPerSubMedian, 'high'],
  ['total deliveries/s', (r) => r.totalDeliveriesPerSec, 'high'],
  ['lost', (r) => r.lost, 'zero'],
  ['messages per response', (r) => r.messagesPerResponse, 'info'],
  ['messages published/s', (r) => r.publishPerSec, 'high'],
  ['server CPU us/delivery', (r) => r.cpuUsPerDelivery, 'low'],
];

function title(profile) {
  const s = SIZES[profile];
  return `W6 batch publish (${s.messages} msgs)`;
}

/**
 * ctx: {profile, inflight, TARGETS, withServers, warmedRun, jobFor, log, describe}.
 * names: the targets that run W6.
 */
async function W6(names, ctx) {
  const size = SIZES[ctx.profile];
  const inflight = ctx.inflight || INFLIGHT;
  const rows = [];
  await ctx.withServers(names, async (servers, failed) => {
    for (const subs of size.subs) {
      const who = `${subs} sub${subs > 1 ? 's' : ''} batch`;
      const batched = { label: `${who}, publishes of ${BATCH}` };
      const single = { label: `${who}, one-message publishes` };
      for (const n of names) {
        const t = ctx.TARGETS[n];
        if (!servers[n]) {
          batched[n] = single[n] = { na: failed[n] };
          continue;
        }
        if (!t.batch) {
          batched[n] = single[n] = { na: 'no batch mode' };
          continue;
        }
        const ownBatch = t.batch.mode === 'batch'; // holdpush's: it also publishes in batches
        const run = (pubBatch) =>
          ctx.warmedRun('w6', (ch) =>
            Object.assign(ctx.jobFor(n, servers[n]), {
              kind: 'stream',
              n: subs,
              messages: size.messages,
              warmup: size.warmup,
              pubBatch,
              inflight: pubBatch > 1 ? inflight : SINGLE_INFLIGHT,
              window: size.window,
              mode: t.batch.mode,
              positions: t.positions,
              subPath: t.batch.prefix + ch,
              singlePath: '/sub/' + ch,
              pubPath: '/pub/' + ch,
              infoPath: '/pub/' + ch,
              timeoutMs: 300000,
            })
          );
        batched[n] = await run(ownBatch ? BATCH : 1);
        ctx.log(`  W6 ${batched.label} ${n}: ${ctx.describe(batched[n])}`);
        if (ownBatch) {
          single[n] = await run(1);
          ctx.log(`  W6 ${single.label} ${n}: ${ctx.describe(single[n])}`);
        } else {
          // No batch publish: the row above already is its one-message publishes.
          single[n] = Object.assign({}, batched[n], { sameAs: 'one-message publishes (no batch publish)' });
        }
      }
      rows.push(batched, single);
    }
  });
  return rows;
}

/**
 * Issue 17's targets: batch publish + batch subscribers against Nchan multipart. A Nchan figure
 * from a run in which it lost messages is no measure of it (with one subscriber and 100,000
 * messages it has stopped delivering a third of the way in): the line is then judged against
 * Nchan multipart in W3 of the same run, lossless, or not at all.
 */
function checks(results, ratio) {
  const out = [];
  for (const row of (results.workloads.W6 || []).filter((r) => /publishes of/.test(r.label))) {
    const hp = row.holdpush;
    const nc = row.nchan;
    if (!hp || hp.na || hp.error || !nc || nc.na || nc.error) continue;
    const one = /^1 sub /.test(row.label);
    const fig = (r) => (one ? r.msgsPerSecPerSubMedian : r.totalDeliveriesPerSec);
    const need = one ? 2 : 1;
    const target = `W6 ${row.label} vs Nchan multipart (one-message publishes)`;
    if (!(nc.lost > 0)) {
      const q = ratio(fig(hp), fig(nc));
      out.push({ target, value: q, need: `>= ${need}x`, ok: q != null && q >= need });
      continue;
    }
    const w3 = (results.workloads.W3 || []).find((r) => r.label === row.label.split(',')[0]);
    const w3nc = w3 && w3.nchan;
    if (!w3nc || w3nc.na || w3nc.error || w3nc.lost > 0) {
      out.push({ target, value: 'n/a', need: `>= ${need}x`, ok: false, note: `Nchan lost ${nc.lost} of its W6 messages and no lossless W3 multipart figure is in this run (--only W3,W6)` });
      continue;
    }
    const q = ratio(fig(hp), fig(w3nc));
    out.push({ target: `${target}, against its W3 figure`, value: q, need: `>= ${need}x`, ok: q != null && q >= need, note: `Nchan lost ${nc.lost} of its W6 messages` });
  }
  return out;
}

module.exports = { W6, WATCHDOG_MIN, METRICS, title, checks, BATCH, INFLIGHT, WINDOW };
