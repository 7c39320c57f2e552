/**
 * The leading tab's side of a shared connection: it holds one batch connection on the union of
 * every tab's channels, tells each answer to all tabs, and brings each subscription that joins
 * to the connection's position: at once when it stands there (or asks for the next message),
 * from the log when the log holds its place, else with a catch-up connection of its own until
 * the two meet. It owns those connections and its timer; stop() releases them.
 */
import { type Connection, type Received, openConnection } from '../connection';
import { MAX_CHANNELS, type Settings } from '../options';
import type { Message, Status } from '../types';
import type { StreamLog } from './log';
import { samePosition } from './log';
import type { SharedDetail, TabMessage } from './messages';

/** How long the channels of the leader before stay asked for, so that tabs that announce again meet the log. */
const RESERVE_MS = 2000;
/** How often, at most, the tabs that closed without a word are looked for. */
const PRUNE_MS = 5000;

type Join = Extract<TabMessage, { t: 'join' }>;

export interface LeaderContext {
  readonly tab: string;
  /** The group's connection settings (base, token, headers, backoff, fetch). */
  readonly settings: Settings;
  /** This tab's log: the leader's own answers reach it through emit(). */
  readonly log: StreamLog;
  /** Tells every tab, this one included. */
  emit(message: TabMessage): void;
  /** The tabs still open (their tab lock is held), or null when it cannot tell. */
  liveTabs(): Promise<ReadonlySet<string> | null>;
}

export interface Leader {
  join(join: Join): void;
  leave(member: string): void;
  stop(): void;
}

interface Entry {
  readonly member: string;
  readonly tab: string;
  readonly seq: number;
  readonly channels: readonly string[];
  /** A catch-up connection, while the subscription is behind the shared one. */
  catchup: Connection | null;
  /** Where the catch-up stands. */
  at: string | null;
}

export function createLeader(context: LeaderContext): Leader {
  const { tab, settings, log } = context;
  const entries = new Map<string, Entry>();
  /** The shared connection's position; undefined until a subscription says where to start. */
  let position: string | null | undefined = log.head;
  let stream: Connection | null = null;
  let asked: readonly string[] = [];
  let status: Exclude<Status, 'stopped'> = 'connecting';
  let detail: SharedDetail = {};
  let reserved: readonly string[] = log.channels;
  let reserveTimer: ReturnType<typeof setTimeout> | null = null;
  let lastPrune = Date.now();
  let stopped = false;

  function union(): string[] {
    const own = new Set<string>();
    for (const entry of entries.values()) for (const channel of entry.channels) own.add(channel);
    const all = new Set(own);
    for (const channel of reserved) all.add(channel);
    return [...(all.size <= MAX_CHANNELS ? all : own)].sort();
  }

  /** Asks for the union now: retargets the connection, opens it, or closes it when none is left. */
  function retarget(): void {
    if (stopped) return;
    const list = union();
    if (stream !== null && list.join(',') === asked.join(',')) return;
    asked = list;
    if (list.length === 0 || position === undefined) {
      stream?.stop();
      stream = null;
    } else if (stream !== null) {
      stream.retarget(list);
    } else {
      stream = openConnection(
        { ...settings, wanted: { uid: null, channels: list }, transport: 'batch', position },
        { received: answered, status: streamStatus },
      );
    }
  }

  function answered(received: Received): void {
    const from = position ?? null;
    if (received.to !== null) position = received.to;
    context.emit({ t: 'batch', tab, batch: { from, to: position ?? null, channels: asked, messages: received.messages }, gap: received.gap });
    for (const entry of [...entries.values()]) splice(entry);
    prune();
  }

  /** Every subscription asks for exactly the channels the connection asked for: what the server said is about each. */
  function allAlike(): boolean {
    const key = asked.join(',');
    for (const entry of entries.values()) if ([...entry.channels].sort().join(',') !== key) return false;
    return true;
  }

  function streamStatus(next: Status, said: SharedDetail): void {
    if (next !== 'stopped') {
      status = next;
      detail = said;
      context.emit({ t: 'status', tab, status, detail });
      return;
    }
    // The server ended the shared request: a channel was deleted (410), or a client error.
    stream = null;
    if (said.reason === 'gone' && !allAlike()) {
      // Some channel of the union was deleted; the server does not say which. The others go on.
      context.emit({ t: 'status', tab, status: 'reconnecting', detail: { ...said, delay: 0 } });
      retarget();
      return;
    }
    // Alike, what the server said is each one's answer; else which one it refused cannot be
    // told apart, so each asks on its own.
    const alike = allAlike();
    // This tab's own last: when its last one goes, it stops leading and closes its channel.
    const ended = [...entries.values()].sort((x, y) => Number(x.tab === tab) - Number(y.tab === tab));
    for (const entry of ended) entry.catchup?.stop();
    entries.clear();
    for (const entry of ended) {
      if (alike) context.emit({ t: 'stopped', tab, member: entry.member, detail: said });
      else context.emit({ t: 'alone', tab, member: entry.member });
    }
  }

  function joined(entry: Entry, replay: readonly Message[]): void {
    context.emit({ t: 'joined', tab, member: entry.member, seq: entry.seq, at: position ?? null, replay, status, detail });
  }

  /** A catch-up that reached a place the log holds hands over to the shared connection. */
  function splice(entry: Entry): void {
    if (entry.catchup === null || entries.get(entry.member) !== entry) return;
    const replay = log.after(entry.at, entry.channels);
    if (replay === null) return;
    entry.catchup.stop();
    entry.catchup = null;
    joined(entry, replay);
  }

  function catchUp(entry: Entry, from: string): void {
    entry.at = from;
    entry.catchup = openConnection(
      { ...settings, wanted: { uid: null, channels: entry.channels }, transport: 'batch', position: from },
      {
        received(received) {
          if (received.to !== null) entry.at = received.to;
          context.emit({ t: 'catchup', tab, member: entry.member, seq: entry.seq, messages: received.messages, to: received.to, gap: received.gap });
          splice(entry);
        },
        status(next, said) {
          // Its own end (410, a client error) is that subscription's, as it would be alone.
          if (next !== 'stopped' || entries.get(entry.member) !== entry) return;
          entry.catchup = null;
          entries.delete(entry.member);
          context.emit({ t: 'stopped', tab, member: entry.member, detail: said });
          retarget();
        },
      },
    );
  }

  function drop(member: string): void {
    const entry = entries.get(member);
    if (entry === undefined) return;
    entry.catchup?.stop();
    entries.delete(member);
  }

  /** Forgets the subscriptions of tabs that closed without saying so (their tab lock is free). */
  function prune(): void {
    if (Date.now() - lastPrune < PRUNE_MS) return;
    lastPrune = Date.now();
    void context.liveTabs().then((live) => {
      if (stopped || live === null) return;
      let changed = false;
      for (const entry of [...entries.values()]) {
        if (entry.tab !== tab && !live.has(entry.tab)) {
          drop(entry.member);
          changed = true;
        }
      }
      if (changed) retarget();
    });
  }

  if (reserved.length > 0) {
    reserveTimer = setTimeout(() => {
      reserveTimer = null;
      reserved = [];
      retarget();
    }, RESERVE_MS);
  }

  return {
    join(join) {
      if (stopped) return;
      drop(join.member);
      const channels = [...new Set(join.channels)];
      const own = new Set<string>();
      for (const entry of entries.values()) for (const channel of entry.channels) own.add(channel);
      for (const channel of channels) own.add(channel);
      if (own.size > MAX_CHANNELS) {
        context.emit({ t: 'alone', tab, member: join.member });
        return;
      }
      const entry: Entry = { member: join.member, tab: join.tab, seq: join.seq, channels, catchup: null, at: null };
      entries.set(join.member, entry);
      if (position === undefined) position = join.position;
      const replay = join.position === null || samePosition(join.position, position) ? [] : log.after(join.position, channels);
      retarget();
      if (entries.get(join.member) !== entry) return;
      if (replay !== null) joined(entry, replay);
      else catchUp(entry, join.position as string);
    },
    leave(member) {
      if (!entries.has(member)) return;
      drop(member);
      retarget();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (reserveTimer !== null) clearTimeout(reserveTimer);
      stream?.stop();
      stream = null;
      for (const entry of entries.values()) entry.catchup?.stop();
      entries.clear();
    },
  };
}
