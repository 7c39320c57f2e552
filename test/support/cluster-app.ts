/**
 * A holdpush cluster as `--workers N` runs it, for the tests: the primary runs the sequencer
 * and supervises; each worker serves HTTP on the shared port with the cluster store.
 *
 * Environment: HP_PORT (required), HP_WORKERS (2), HP_BUFFER (1000), HP_HOLD (hold timeout, 5),
 * HP_IDEMPOTENCY_TTL (300); with HP_WEBHOOK_URL (and HP_WEBHOOK_SECRET, HP_VACATE seconds, 5) the
 * primary sends occupancy events.
 * Besides holdpush's routes, each worker answers `GET /_worker` with
 * `{"pid": n, "totals": <the cluster's summed figures>}` so that tests can tell workers apart.
 */
import cluster from 'node:cluster';
import { runCluster } from '../../lib/cli/cluster';
import { type ClusterStore, createClusterStore } from '../../lib/stores/cluster/worker';
import { createHoldpushServer } from '../../lib/http/http-server';

const port = Number(process.env.HP_PORT);
const workers = Number(process.env.HP_WORKERS ?? 2);
const buffer = Number(process.env.HP_BUFFER ?? 1000);
const holdTimeout = Number(process.env.HP_HOLD ?? 5);
const idempotencyTtl = Number(process.env.HP_IDEMPOTENCY_TTL ?? 300);
const webhookUrl = process.env.HP_WEBHOOK_URL;
const occupancy =
  webhookUrl === undefined
    ? undefined
    : { webhookUrl, webhookSecret: process.env.HP_WEBHOOK_SECRET, vacateDelay: Number(process.env.HP_VACATE ?? 5), webhookRetry: 1, webhookQueue: 1000 };

if (cluster.isPrimary) {
  const running = runCluster({ workers, sequencer: { buffer, messageTtl: 3600, maxChannels: 1000, occupancy }, shutdownTimeout: 2, restartDelay: 50 });
  void running.done.then((status) => {
    process.stdout.write('primary: done\n');
    process.exit(status);
  });
} else {
  let store: ClusterStore | undefined;
  const { server, holdpush } = createHoldpushServer({
    buffer,
    holdTimeout,
    idempotencyTtl,
    log: 'off',
    shutdownTimeout: 2,
    store: (context) => {
      store = createClusterStore({ isHeld: context.isHeld, buffer: context.buffer, messageTtl: context.messageTtl, reportInterval: 100 });
      return store;
    },
  });
  server.prependListener('request', (req, res) => {
    if (req.url !== '/_worker') return;
    const body = JSON.stringify({ pid: process.pid, totals: store?.deployment.totals() ?? null });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(body);
  });
  server.listen(port, '127.0.0.1', () => process.stdout.write(`worker ${process.pid} listening\n`));
  let stopping = false;
  process.on('SIGTERM', () => {
    if (stopping) return;
    stopping = true;
    server.close(() => process.exit(0));
    void holdpush.close().then(() => server.closeIdleConnections());
    setTimeout(() => {
      server.closeAllConnections();
      process.exit(0);
    }, 2000).unref();
  });
}
