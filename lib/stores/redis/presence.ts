/**
 * Presence on Redis: this server's subscriber counts and figures shared with every server on the
 * same Redis, the others' read back, and (for occupancy) which server decides.
 *
 * Every `interval` (500 ms) one script (presence-scripts.ts) writes what changed here since the
 * last tick, renews the heartbeat and reads what changed elsewhere. A subscriber costs Redis
 * nothing of its own: its hold and its release are a set insertion here (lib/presence/
 * local-counts.ts), and a long-poll that re-polls within the tick leaves the count as it was, so
 * nothing is written. A server that dies stops renewing: its share expires after `ttl`.
 */
import { randomBytes } from 'node:crypto';
import type { LocalCounts } from '../../presence/local-counts';
import type { ElectionNews, SharedCounts } from '../../presence/shared';
import { NO_WEBHOOK_FIGURES, type WebhookFigures } from '../../webhooks/outbox';
import { type DeploymentFigures, NO_FIGURES, type ProcessFigures, sumFigures } from '../figures';
import { num, text } from './codec';
import { createRedisOutbox } from './outbox';
import { PRESENCE_SCRIPTS } from './presence-scripts';
import type { Script } from './scripts';

export interface RedisPresenceOptions {
  /** Runs a script with its arguments after the key prefix (RedisConnection.run). */
  run(script: Script, args: string[]): Promise<unknown>;
  /** Whether the command connection is up (a tick while it is down is skipped). */
  ready(): boolean;
  /** Milliseconds between ticks. @defaultValue 500 */
  interval?: number;
  /** Milliseconds a server's heartbeat (and share) lasts without a tick. @defaultValue 3000 */
  ttl?: number;
}

export interface RedisPresence {
  readonly deployment: DeploymentFigures;
  readonly counts: SharedCounts;
  /** Stops ticking and takes this server's share away at once (best effort). */
  close(): Promise<void>;
}

interface Server {
  /** The number of the last change of this server that was read. */
  seq: number;
  readonly share: Map<string, number>;
  figures: ProcessFigures;
}

function parseFigures(json: string): ProcessFigures {
  try {
    const value = JSON.parse(json) as ProcessFigures;
    const { held } = value;
    if ([value.published, value.delivered, held.longpoll, held.stream, held.total].every((n) => Number.isFinite(n))) return value;
  } catch {
    // A server mid-upgrade, or a key written by something else: counted as nothing.
  }
  return NO_FIGURES;
}

export function createRedisPresence(options: RedisPresenceOptions): RedisPresence {
  const interval = options.interval ?? 500;
  const ttl = options.ttl ?? 3000;
  const id = randomBytes(8).toString('hex');
  const servers = new Map<string, Server>();
  /** Subscribers per channel on the other servers: the sums of their shares. */
  const others = new Map<string, number>();
  let local: LocalCounts | undefined;
  let figures: () => ProcessFigures = () => NO_FIGURES;
  let wanted: () => boolean = () => false;
  let news: ((news: ElectionNews) => void) | undefined;
  let webhook: WebhookFigures | undefined;
  /** The number of this server's last change as written. */
  let mySeq = 0;
  /** This server's share vanished from Redis (expired, or Redis was wiped): write it whole. */
  let whole = false;
  /** When a tick last succeeded (0: never). */
  let heard = 0;
  let busy = false;
  let closed = false;
  const changed = new Set<string>();

  function adjust(channel: string, delta: number): void {
    if (delta === 0) return;
    const sum = (others.get(channel) ?? 0) + delta;
    if (sum <= 0) others.delete(channel);
    else others.set(channel, sum);
    changed.add(channel);
  }

  function forget(serverId: string): void {
    const server = servers.get(serverId);
    if (server === undefined) return;
    servers.delete(serverId);
    for (const [channel, count] of server.share) adjust(channel, -count);
  }

  /** Applies one server's entry of a tick's reply: {id, figures, kind, change number, pairs...}. */
  function hear(entry: unknown[]): string {
    const serverId = text(entry[0]);
    const kind = text(entry[2]);
    let server = servers.get(serverId);
    if (server === undefined) {
      server = { seq: 0, share: new Map(), figures: NO_FIGURES };
      servers.set(serverId, server);
    }
    server.figures = parseFigures(text(entry[1]));
    server.seq = num(entry[3]);
    if (kind === 'f') {
      for (const [channel, count] of server.share) adjust(channel, -count);
      server.share.clear();
    }
    if (kind === 'f' || kind === 'd') {
      for (let i = 4; i + 1 < entry.length; i += 2) {
        const channel = text(entry[i]);
        if (channel === '#n') continue;
        const count = Math.max(0, Math.floor(num(entry[i + 1])));
        adjust(channel, count - (server.share.get(channel) ?? 0));
        if (count === 0) server.share.delete(channel);
        else server.share.set(channel, count);
      }
    }
    return serverId;
  }

  function args(changes: Map<string, number>, full: boolean): string[] {
    const list = [id, String(ttl), JSON.stringify(figures()), String(mySeq), full ? '1' : '0', String(changes.size)];
    for (const [channel, count] of changes) list.push(channel, String(count));
    list.push(wanted() ? String(ttl) : '0', String(servers.size));
    for (const [serverId, server] of servers) list.push(serverId, String(server.seq));
    return list;
  }

  async function tick(): Promise<void> {
    if (busy || closed || !options.ready()) {
      stale();
      return;
    }
    busy = true;
    const full = whole;
    const changes = full ? (local?.all() ?? new Map<string, number>()) : (local?.take() ?? new Map<string, number>());
    for (const channel of changes.keys()) changed.add(channel);
    try {
      const reply = await options.run(PRESENCE_SCRIPTS.tick, args(changes, full));
      if (closed || !Array.isArray(reply)) return;
      // A share that vanished is written whole next time, numbered past every number this
      // server gave out, so no other server mistakes it for one it has read.
      whole = num(reply[1]) === 1;
      if (!whole) mySeq = num(reply[0]);
      const live = new Set<string>();
      webhook = { deliveries: num(reply[3]), failures: num(reply[4]), dropped: num(reply[5]), queue: num(reply[6]) };
      for (const entry of reply.slice(7)) if (Array.isArray(entry)) live.add(hear(entry));
      for (const serverId of [...servers.keys()]) if (!live.has(serverId)) forget(serverId);
      heard = Date.now();
      const sender = num(reply[2]) === 1;
      const told = new Set(changed);
      changed.clear();
      news?.({ sender, changed: told });
    } catch {
      // Redis is away: this tick's changes go out whole once it is back.
      whole = true;
      stale();
    } finally {
      busy = false;
    }
  }

  /** Without a tick for longer than the heartbeat, the others' shares may be gone: counted as unknown. */
  function stale(): void {
    if (heard !== 0 && Date.now() - heard > ttl) {
      for (const serverId of [...servers.keys()]) forget(serverId);
      heard = 0;
      news?.({ sender: false, changed: new Set() });
    }
  }

  const timer = setInterval(() => void tick(), interval);
  timer.unref();

  return {
    deployment: {
      report(source) {
        figures = source;
      },
      totals: () => (heard === 0 ? undefined : sumFigures([...[...servers.values()].map((server) => server.figures), figures()])),
    },
    counts: {
      source(counts) {
        local = counts;
        counts.start();
      },
      others: (channel) => others.get(channel) ?? 0,
      channels: () => others.keys(),
      election: {
        stand(want, listener) {
          wanted = want;
          news = listener;
        },
        outbox: (limit) => createRedisOutbox(options.run, id, limit, () => webhook ?? NO_WEBHOOK_FIGURES),
      },
      webhook: () => webhook,
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      try {
        await options.run(PRESENCE_SCRIPTS.leave, [id]);
      } catch {
        // Redis is away: the share expires by itself.
      }
    },
  };
}
