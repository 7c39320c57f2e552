// The ops face (docs/protocol.md, "Operations"): `/healthz`, `/stats` and `/metrics`.
import type { AuthCounts } from './auth/authorize';
import { type HeaderPairs, JSON_TYPE, answer } from './http/answer';
import type { Router } from './http/router';
import type { PendingBytes } from './pending-bytes';
import type { Registry } from './registry';
import type { MessageStore, StoreKind } from './stores/store';
import type { WebhookFigures } from './webhooks/outbox';

/** The figures of `/stats` (docs/protocol.md, "Operations"). */
export interface Stats {
  uptime: number;
  /** Held subscribers of the whole deployment (other processes' as last heard, at most 1 s old). */
  held: { longpoll: number; stream: number; total: number };
  /** This process's own figures. */
  process: { held: { longpoll: number; stream: number; total: number } };
  channels: number;
  messages: { published: number; delivered: number; expired: number; evicted: number };
  bufferBytes: number;
  /** Bytes written to this process's subscribers but not yet taken by them. */
  pendingBytes: number;
  /** Subscriber connections this process cut: past --max-pending-bytes, or a stream past its own bound. */
  cut: { pendingBudget: number; slowReader: number };
  store: StoreKind;
  /** This process's questions to the app (`--auth-url`, `authorize`) and the answers it did not have to ask for. */
  auth: AuthCounts;
  /** Occupancy webhook deliveries (of the deployment). */
  webhook: WebhookFigures;
}

function metric(lines: string[], name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
}

/** The same figures in the Prometheus text exposition format. */
export function prometheus(stats: Stats): string {
  const lines: string[] = [];
  metric(lines, 'holdpush_uptime_seconds', 'gauge', 'Seconds since the server started.', [['', stats.uptime]]);
  metric(lines, 'holdpush_held', 'gauge', 'Held subscriber connections by kind, in the deployment and in this process.', [
    ['{kind="longpoll"}', stats.held.longpoll],
    ['{kind="stream"}', stats.held.stream],
    ['{kind="longpoll",scope="process"}', stats.process.held.longpoll],
    ['{kind="stream",scope="process"}', stats.process.held.stream],
  ]);
  metric(lines, 'holdpush_channels', 'gauge', 'Channels alive.', [['', stats.channels]]);
  metric(lines, 'holdpush_messages_published_total', 'counter', 'Messages published.', [['', stats.messages.published]]);
  metric(lines, 'holdpush_messages_delivered_total', 'counter', 'Messages written to held subscribers.', [['', stats.messages.delivered]]);
  metric(lines, 'holdpush_messages_expired_total', 'counter', 'Messages dropped at the end of their TTL.', [['', stats.messages.expired]]);
  metric(lines, 'holdpush_messages_evicted_total', 'counter', 'Messages dropped because a channel buffer or the whole buffer budget was full.', [['', stats.messages.evicted]]);
  metric(lines, 'holdpush_buffer_bytes', 'gauge', 'Bytes of message bodies held in buffers.', [['', stats.bufferBytes]]);
  metric(lines, 'holdpush_pending_bytes', 'gauge', 'Bytes written to subscribers but not yet taken by them.', [['', stats.pendingBytes]]);
  metric(lines, 'holdpush_cut_total', 'counter', 'Subscriber connections cut: the most behind when all passed --max-pending-bytes, or a stream past its own bound.', [
    ['{reason="pending_budget"}', stats.cut.pendingBudget],
    ['{reason="slow_reader"}', stats.cut.slowReader],
  ]);
  metric(lines, 'holdpush_auth_requests_total', 'counter', 'Questions this process asked the app that authorizes requests, by answer.', [
    ['{result="allow"}', stats.auth.allow],
    ['{result="deny"}', stats.auth.deny],
    ['{result="error"}', stats.auth.error],
  ]);
  metric(lines, 'holdpush_auth_cache_hits_total', 'counter', "Decisions of the app's given again without asking it (cached, or shared with a question on its way).", [['', stats.auth.cacheHits]]);
  metric(lines, 'holdpush_webhook_deliveries_total', 'counter', 'Occupancy webhook deliveries answered 2xx.', [['', stats.webhook.deliveries]]);
  metric(lines, 'holdpush_webhook_failures_total', 'counter', 'Occupancy webhook deliveries dropped: retried for 5 minutes, or the queue was full.', [
    ['{reason="retries"}', stats.webhook.failures],
    ['{reason="queue_full"}', stats.webhook.dropped],
  ]);
  metric(lines, 'holdpush_webhook_queue', 'gauge', 'Occupancy webhook deliveries waiting to be sent.', [['', stats.webhook.queue]]);
  return `${lines.join('\n')}\n`;
}

/** One process's figures, or (in a cluster) the sums of every worker's. */
export interface Figures {
  held: Stats['held'];
  published: number;
  delivered: number;
}

/** This process's own figures. */
export function localFigures(registry: Registry, published: number, delivered: number): Figures {
  return { held: { longpoll: registry.longpolls, stream: registry.streams, total: registry.size }, published, delivered };
}

/** `/stats`: the store's figures with this process's, or the whole cluster's when `totals` has them. */
export function readStats(started: number, store: MessageStore, local: Figures, totals: Figures | undefined, auth: AuthCounts, pending: PendingBytes, webhook: WebhookFigures): Stats {
  const storeStats = store.stats();
  return {
    uptime: Math.floor((Date.now() - started) / 1000),
    held: totals?.held ?? local.held,
    process: { held: local.held },
    channels: storeStats.channels,
    messages: { published: totals?.published ?? local.published, delivered: totals?.delivered ?? local.delivered, expired: storeStats.expired, evicted: storeStats.evicted },
    bufferBytes: storeStats.bufferBytes,
    pendingBytes: pending.bytes(),
    cut: { ...pending.cuts },
    store: store.kind,
    auth,
    webhook,
  };
}

/** Adds the three routes; `stats` reads the figures at each request. */
export function opsRoutes(router: Router, shared: HeaderPairs, stats: () => Stats): void {
  const answered = (type: string, body: () => string) => (_req: unknown, res: Parameters<typeof answer>[0]) => answer(res, 200, ['Content-Type', type, 'Cache-Control', 'no-store', ...shared], body());
  router
    .on('GET', '/healthz', answered('text/plain; charset=utf-8', () => 'ok'))
    .on('GET', '/stats', answered(JSON_TYPE, () => JSON.stringify(stats())))
    .on('GET', '/metrics', answered('text/plain; version=0.0.4; charset=utf-8', () => prometheus(stats())));
}
