/**
 * Subscriptions that share one connection with this origin's other tabs (docs/client.md,
 * "One connection for every tab"). One hub per server and credentials in this tab; a
 * subscription the leader sends away runs alone, from where it stands.
 */
import { runAlone } from './alone';
import type { Connection } from './connection';
import type { Callbacks, Settings } from './options';
import { type Environment, type Hub, type Member, createHub, newId } from './share/hub';
import { createSink } from './sink';
import type { Subscription } from './types';

const hubs = new Map<string, Hub>();

/** What this context offers for sharing: a browser page or worker with BroadcastChannel and Web Locks. */
export function sharing(): Environment | null {
  const g = globalThis as unknown as {
    BroadcastChannel?: Environment['BroadcastChannel'];
    navigator?: { locks?: LockManager };
    location?: { href?: unknown };
    document?: EventTarget;
    addEventListener?: unknown;
  };
  // Web Locks exist only in secure contexts (https, localhost); Node has no location.
  if (typeof g.BroadcastChannel !== 'function' || !g.navigator?.locks || typeof g.location?.href !== 'string') return null;
  return {
    BroadcastChannel: g.BroadcastChannel,
    locks: g.navigator.locks,
    window: typeof g.addEventListener === 'function' ? (globalThis as unknown as EventTarget) : null,
    document: g.document ?? null,
  };
}

/** Subscriptions with the same server, token, headers and backoff share; others do not. */
function groupName(settings: Settings, href: string): string {
  const headers = Object.keys(settings.headers).sort().map((key) => [key.toLowerCase(), settings.headers[key]]);
  const key = [new URL(settings.base, href).href, settings.token, headers, settings.backoff.min, settings.backoff.max];
  return `holdpush ${JSON.stringify(key)}`;
}

/** A subscription on this tab's share of the group's connection, or null when this context cannot share. */
export function subscribeShared(settings: Settings, callbacks: Callbacks, environment: Environment): Subscription | null {
  const name = groupName(settings, String((globalThis as unknown as { location: { href: string } }).location.href));
  let hub = hubs.get(name);
  if (hub === undefined) {
    let created: Hub;
    try {
      created = createHub(name, { ...settings, position: null }, environment, () => {
        if (hubs.get(name) === created) hubs.delete(name);
      });
    } catch {
      return null; // a context that refuses a BroadcastChannel: the caller runs it alone
    }
    hub = created;
    hubs.set(name, created);
  }
  const sink = createSink(callbacks, settings.position, 'follower');
  let alone: Connection | null = null;
  let ended = false;
  const channels = settings.wanted.channels as readonly string[];
  const member: Member = {
    id: newId(),
    channels,
    sink,
    seq: 0,
    state: 'waiting',
    goAlone() {
      if (ended || sink.stopped) return;
      alone = runAlone({ ...settings, position: sink.position }, sink);
    },
  };
  const home = hub;
  sink.setStatus('connecting', { role: home.role });
  home.add(member);
  return {
    stop() {
      if (ended) return;
      ended = true;
      if (alone !== null) alone.stop();
      else home.remove(member);
      sink.end({ reason: 'stopped', role: alone !== null ? 'alone' : home.role });
    },
    get position() {
      return sink.position;
    },
    get status() {
      return sink.status;
    },
    get transport() {
      return settings.transport;
    },
    get role() {
      return alone !== null ? 'alone' : sink.stopped ? sink.role : home.role;
    },
  };
}
