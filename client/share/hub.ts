/**
 * One tab's part in a shared connection (one per server and credentials): its subscriptions,
 * its BroadcastChannel, and its two Web Locks: its own (held while it lives, so the leader can
 * tell closed tabs) and the group's (whoever holds it leads). It hands the leader's answers to
 * its subscriptions, each from where it stands, and leads when the lock comes to it. It owns
 * the channel, the locks, its leader and its page listeners; close() releases them all.
 */
import type { Settings } from '../options';
import type { Sink } from '../sink';
import type { Role } from '../types';
import { type Leader, createLeader } from './leader';
import { continuation, createStreamLog } from './log';
import type { TabMessage } from './messages';

/** What a tab needs from the browser to share. */
export interface Environment {
  readonly BroadcastChannel: new (name: string) => BroadcastChannel;
  readonly locks: LockManager;
  /** Where pagehide/pageshow fire (the window), and freeze/resume (the document), if any. */
  readonly window: EventTarget | null;
  readonly document: EventTarget | null;
}

/** A subscription, as its tab's hub sees it. */
export interface Member {
  readonly id: string;
  readonly channels: readonly string[];
  readonly sink: Sink;
  /** Bumped at each (re)announcement: answers to an older one are stale. */
  seq: number;
  state: 'waiting' | 'synced' | 'catchup';
  /** The leader said it must run on its own connection (it leaves the hub). */
  goAlone(): void;
}

export interface Hub {
  readonly role: Exclude<Role, 'alone'>;
  add(member: Member): void;
  remove(member: Member): void;
}

let counter = 0;

/** An id no other tab will pick (not a secret). */
export function newId(): string {
  const bytes = new Uint8Array(8);
  const crypto = (globalThis as { crypto?: { getRandomValues?(array: Uint8Array): Uint8Array } }).crypto;
  if (crypto?.getRandomValues) crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return `${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}-${(counter++).toString(36)}`;
}

export function createHub(name: string, settings: Settings, environment: Environment, onClose: () => void): Hub {
  const tab = newId();
  const tabLock = `${name} tab ${tab}`;
  const channel = new environment.BroadcastChannel(name);
  const members = new Map<string, Member>();
  const log = createStreamLog();
  let leaderTab: string | null = null;
  let leader: Leader | null = null;
  let ready = false; // the tab lock is held: announcements may go out
  let frozen = false;
  let closed = false;
  let releaseTab: (() => void) | null = null;
  let releaseLead: (() => void) | null = null;
  let asking: AbortController | null = null;

  function role(): Exclude<Role, 'alone'> {
    return leader !== null ? 'leader' : 'follower';
  }

  function post(message: TabMessage): void {
    try {
      channel.postMessage(message);
    } catch {
      // a closing channel: the tabs that still listen learn of it from the next leader
    }
  }

  /** The leader's messages go to the other tabs and are handled here too, in the same order. */
  function emit(message: TabMessage): void {
    post(message);
    handle(message);
  }

  function announce(member: Member): void {
    member.seq++;
    member.state = 'waiting';
    const join = { t: 'join', tab, member: member.id, seq: member.seq, channels: member.channels, position: member.sink.position } as const;
    if (leader !== null) leader.join(join);
    else post(join);
  }

  function announceAll(): void {
    if (!ready || frozen) return;
    for (const member of [...members.values()]) if (members.get(member.id) === member) announce(member);
  }

  function liveTabs(): Promise<ReadonlySet<string> | null> {
    const prefix = `${name} tab `;
    return environment.locks.query().then(
      (snapshot) => new Set((snapshot.held ?? []).map((lock) => lock.name ?? '').filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length))),
      () => null,
    );
  }

  function lead(): void {
    leaderTab = tab;
    leader = createLeader({ tab, settings, log, emit, liveTabs });
    emit({ t: 'lead', tab });
    announceAll();
  }

  function askToLead(): void {
    if (closed || frozen || !ready || asking !== null || leader !== null) return;
    const ask = new AbortController();
    asking = ask;
    environment.locks
      .request(name, { signal: ask.signal }, () => {
        if (asking === ask) asking = null;
        // Closed or frozen since it asked: let the lock go to the next tab at once.
        if (closed || frozen) return undefined;
        return new Promise<void>((resolve) => {
          releaseLead = resolve;
          lead();
        });
      })
      .catch(() => {
        if (asking === ask) asking = null;
      });
  }

  function stepDown(): void {
    if (asking !== null) {
      asking.abort();
      asking = null;
    }
    if (leader === null) return;
    leader.stop();
    leader = null;
    leaderTab = null;
    releaseLead?.();
    releaseLead = null;
  }

  function close(): void {
    if (closed) return;
    closed = true;
    stepDown();
    releaseTab?.();
    releaseTab = null;
    channel.onmessage = null;
    channel.close();
    environment.window?.removeEventListener('pagehide', onPageHide);
    environment.window?.removeEventListener('pageshow', onPageShow);
    environment.document?.removeEventListener('freeze', onFreeze);
    environment.document?.removeEventListener('resume', onResume);
    onClose();
  }

  function forget(member: Member): void {
    if (members.get(member.id) !== member) return;
    members.delete(member.id);
    leader?.leave(member.id);
    if (members.size === 0) close();
  }

  /** The member an answer to its latest announcement is for. */
  function current(id: string, seq: number): Member | undefined {
    const member = members.get(id);
    return member !== undefined && member.seq === seq ? member : undefined;
  }

  function handle(message: TabMessage): void {
    if (closed) return;
    switch (message.t) {
      case 'join':
        leader?.join(message);
        return;
      case 'leave':
        leader?.leave(message.member);
        return;
      case 'lead':
        if (message.tab === tab) return;
        leaderTab = message.tab;
        announceAll();
        return;
      case 'alone': {
        const member = members.get(message.member);
        if (member === undefined) return;
        forget(member);
        member.goAlone();
        return;
      }
      case 'stopped': {
        const member = members.get(message.member);
        if (member === undefined) return;
        const was = role(); // forgetting the last member closes the hub, and a leader steps down
        forget(member);
        member.sink.end({ ...message.detail, role: was });
        return;
      }
      default:
        break;
    }
    // The rest comes from a leader: the one that leads now.
    if (leaderTab === null && leader === null) leaderTab = message.tab;
    if (message.tab !== leaderTab) return;
    switch (message.t) {
      case 'batch': {
        log.add(message.batch);
        for (const member of [...members.values()]) {
          if (member.state !== 'synced' || members.get(member.id) !== member) continue;
          const taken = continuation(message.batch, member.sink.position);
          if (taken === null) {
            announce(member); // it missed something or is ahead: the leader brings it back
            continue;
          }
          const wanted = new Set(member.channels);
          const mine = taken.filter((m) => m.channel !== null && wanted.has(m.channel));
          const gap = message.gap !== null && taken === message.batch.messages ? message.gap : null;
          const first = mine[0];
          if (gap !== null && first !== undefined && !first.gap) mine[0] = { ...first, gap: true };
          member.sink.receive({ messages: mine, to: message.batch.to, gap });
        }
        return;
      }
      case 'joined': {
        const member = current(message.member, message.seq);
        if (member === undefined) return;
        log.anchor(message.at);
        member.state = 'synced';
        member.sink.receive({ messages: message.replay, to: message.at, gap: null });
        member.sink.setStatus(message.status, { ...message.detail, role: role() });
        return;
      }
      case 'catchup': {
        const member = current(message.member, message.seq);
        if (member === undefined) return;
        member.state = 'catchup';
        member.sink.receive({ messages: message.messages, to: message.to, gap: message.gap });
        return;
      }
      case 'status':
        for (const member of [...members.values()]) {
          if (member.state !== 'waiting') member.sink.setStatus(message.status, { ...message.detail, role: role() });
        }
        return;
    }
  }

  // A frozen tab runs no code: it must not lead, nor be given the lock while it sleeps.
  function onFreeze(): void {
    frozen = true;
    stepDown();
  }

  function onResume(): void {
    frozen = false;
    askToLead();
    announceAll();
  }

  function onPageHide(event: Event): void {
    if ((event as PageTransitionEvent).persisted) {
      onFreeze();
      return;
    }
    // Unloading: tell the leader now rather than have it find out from the free tab lock.
    if (leader === null) for (const member of members.values()) post({ t: 'leave', tab, member: member.id });
  }

  function onPageShow(event: Event): void {
    if ((event as PageTransitionEvent).persisted) onResume();
  }

  channel.onmessage = (event: MessageEvent) => handle(event.data as TabMessage);
  environment.window?.addEventListener('pagehide', onPageHide);
  environment.window?.addEventListener('pageshow', onPageShow);
  environment.document?.addEventListener('freeze', onFreeze);
  environment.document?.addEventListener('resume', onResume);
  environment.locks
    .request(tabLock, () => {
      if (closed) return undefined;
      return new Promise<void>((resolve) => {
        releaseTab = resolve;
        ready = true;
        askToLead();
        announceAll();
      });
    })
    .catch(() => {
      // No locks after all (an opaque origin refuses them): every subscription runs alone.
      for (const member of [...members.values()]) {
        forget(member);
        member.goAlone();
      }
    });

  return {
    get role() {
      return role();
    },
    add(member) {
      members.set(member.id, member);
      if (ready && !frozen) announce(member);
    },
    remove(member) {
      if (members.get(member.id) !== member) return;
      if (leader === null) post({ t: 'leave', tab, member: member.id });
      forget(member);
    },
  };
}
