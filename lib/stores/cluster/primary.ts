/** The cluster's primary: one sequencer (a memory store) for every worker, served over IPC. */
import { IdempotencyCache } from '../../idempotency/cache';
import { type AnnounceOptions, createAnnouncer } from '../../presence/announcer';
import { NO_WEBHOOK_FIGURES, createMemoryOutbox } from '../../webhooks/outbox';
import { type DeploymentTotals, NO_FIGURES, type ProcessFigures, sumFigures } from '../figures';
import { createSequencer } from '../memory/store';
import { type MessageStore, type StoreLimits, StoreUnavailableError } from '../store';
import { CountTable } from './counts';
import { HoldTable } from './holds';
import { type Call, type Dropped, type PrimaryMessage, type WireMessage, isWorkerMessage, toBuffer, toWire } from './protocol';

/** The side of the IPC channel the primary sees (a `cluster.Worker`). */
export interface WorkerLink {
  readonly id: number;
  send(message: unknown, callback?: (error: Error | null) => void): boolean;
  isConnected(): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  removeListener(event: 'message', listener: (message: unknown) => void): unknown;
}

/** The sequencer's limits (which channels are held, the primary knows from the workers). */
export interface ClusterPrimaryOptions extends Omit<StoreLimits, 'isHeld'> {
  /** Bytes all buffered messages may take together. @defaultValue 256 MiB */
  maxBufferBytes?: number;
  /** Milliseconds between figures pushed to every worker. @defaultValue 500 */
  statsInterval?: number;
  /** With it, the primary decides occupancy for the cluster (its counts are every worker's) and sends the webhook. */
  occupancy?: PrimaryOccupancy;
}

export interface PrimaryOccupancy extends AnnounceOptions {
  /** Deliveries waiting at most. */
  readonly webhookQueue: number;
}

export interface ClusterPrimary {
  /** The sequencer's own store (for tests and the primary's logs). */
  readonly store: MessageStore;
  /** Serves a worker: call on `cluster.on('fork')`; returns the function that lets it go. */
  attach(worker: WorkerLink): () => void;
  /** Forgets a worker that died: its holds are released. */
  detach(workerId: number): void;
  /** Sums of the last reports of the attached workers. */
  totals(): DeploymentTotals;
  /** Subscribers per channel in every worker, as last reported. */
  readonly counts: CountTable;
  close(): Promise<void>;
}

interface Attached {
  readonly link: WorkerLink;
  figures: ProcessFigures;
  readonly off: () => void;
}

/**
 * The buffer outlives any worker, and tokens are ordered across workers. The primary keeps the
 * holds of every worker, so a channel one of them holds is never forgotten. The factory is the
 * primary's half of the protocol (protocol.ts) over its shared state, so it is longer than most.
 */
export function createClusterPrimary(options: ClusterPrimaryOptions): ClusterPrimary {
  const holds = new HoldTable();
  const counts = new CountTable();
  /** Channels whose totals changed since the announcer last looked. */
  const changed = new Set<string>();
  const occupancy = options.occupancy;
  const outbox = occupancy === undefined ? undefined : createMemoryOutbox(occupancy.webhookQueue);
  const announcer =
    occupancy === undefined || outbox === undefined
      ? undefined
      : createAnnouncer({
          options: occupancy,
          count: (channel) => counts.total(channel),
          changed() {
            const list = [...changed];
            changed.clear();
            return list;
          },
          present: () => [...counts.all()].map(([channel]) => channel),
          outbox,
          // No app runs in the primary: the webhook is the only listener.
          emit: () => undefined,
        });
  announcer?.start();
  const workers = new Map<number, Attached>();
  /** The cluster's idempotency keys: the primary decides for every worker. */
  const keys = new IdempotencyCache();
  /** While a batch is appended, its messages gather here and go to the workers as one IPC message. */
  let batch: WireMessage[] | undefined;
  /** What the byte budget dropped since the last message went out: told with the next (whose append dropped them). */
  let dropped: Dropped = [];
  const store = createSequencer(
    {
      buffer: options.buffer,
      messageTtl: options.messageTtl,
      maxChannels: options.maxChannels,
      maxBufferBytes: options.maxBufferBytes,
      isHeld: (channel) => holds.isHeld(channel),
    },
    (channel, seq) => void dropped.push([channel, seq]),
  );

  /** The budget's drops to tell with the message(s) going out now, if any. */
  function takeDropped(): { dropped?: Dropped } {
    if (dropped.length === 0) return {};
    const told = dropped;
    dropped = [];
    return { dropped: told };
  }

  function send(link: WorkerLink, message: PrimaryMessage): void {
    if (!link.isConnected()) return;
    try {
      link.send(message, () => undefined);
    } catch {
      // The worker is going away; its exit detaches it.
    }
  }

  function broadcast(message: PrimaryMessage): void {
    for (const { link } of workers.values()) send(link, message);
  }

  store.watch({
    message(message) {
      if (batch !== undefined) batch.push(toWire(message));
      else broadcast({ hp: 'msg', message: toWire(message), ...takeDropped() });
    },
    deleted: (channel) => broadcast({ hp: 'del', channel }),
  });

  /** Channels no worker holds any more: the sequencer may forget the empty ones. */
  function letGo(free: readonly string[]): void {
    for (const channel of free) store.released(channel);
  }

  async function run(workerId: number, call: Call): Promise<unknown> {
    switch (call.op) {
      case 'append': {
        const [channel, input] = call.args;
        const { message, info } = await store.appendWithInfo(channel, { data: toBuffer(input.data), contentType: input.contentType, event: input.event });
        const { data: _data, ...rest } = toWire(message);
        return { message: rest, info };
      }
      case 'appendMany': {
        const inputs = call.args[0].map((input) => ({ channel: input.channel, data: toBuffer(input.data), contentType: input.contentType, event: input.event }));
        // The sequencer (a memory store) tells its watchers inside the call, before it returns.
        batch = [];
        const appended = store.appendMany(inputs);
        const told = batch;
        batch = undefined;
        if (told.length > 0) broadcast({ hp: 'msgs', messages: told, ...takeDropped() });
        return (await appended).map((message) => {
          const { data: _data, ...rest } = toWire(message);
          return rest;
        });
      }
      case 'claim':
        return keys.claim(call.args[0], call.args[1], workerId);
      case 'settle': {
        const [key, ticket, answer, ttlMs] = call.args;
        keys.settle(key, ticket, answer, ttlMs);
        return true;
      }
      case 'read': {
        const result = await store.read(...call.args);
        return { ...result, messages: result.messages.map(toWire) };
      }
      case 'head':
        return store.head();
      case 'touch': {
        const [channels] = call.args;
        const ok = await store.touch(channels);
        if (ok && workers.has(workerId)) holds.hold(workerId, channels);
        return ok;
      }
      case 'info':
        return store.info(call.args[0]);
      case 'delete':
        return store.delete(call.args[0]);
    }
  }

  /** Sums over the attached workers, leaving out `except`. */
  function totals(except?: number): DeploymentTotals {
    const reports: ProcessFigures[] = [];
    for (const [id, { figures }] of workers) if (id !== except) reports.push(figures);
    return sumFigures(reports);
  }

  /** Tells every worker but `except` how many subscribers the others have on `channels` now. */
  function relayCounts(channels: readonly string[], except: number): void {
    if (channels.length === 0) return;
    if (announcer !== undefined) for (const channel of channels) changed.add(channel);
    for (const [id, { link }] of workers) {
      if (id !== except) send(link, { hp: 'others', counts: channels.map((channel) => [channel, counts.others(id, channel)]) });
    }
  }

  function pushStats(): void {
    const storeStats = store.stats();
    const webhook = outbox?.figures() ?? NO_WEBHOOK_FIGURES;
    for (const [id, { link }] of workers) send(link, { hp: 'stats', store: storeStats, others: totals(id), webhook });
  }
  const statsTimer = setInterval(pushStats, options.statsInterval ?? 500);
  statsTimer.unref();

  function serve(link: WorkerLink, message: unknown): void {
    if (!isWorkerMessage(message)) return;
    switch (message.hp) {
      case 'req': {
        const { id } = message;
        run(link.id, message).then(
          (value) => send(link, { hp: 'res', id, ok: true, value }),
          (error: unknown) => {
            const code = error instanceof StoreUnavailableError ? error.code : undefined;
            send(link, { hp: 'res', id, ok: false, error: { code, message: error instanceof Error ? error.message : String(error) } });
          },
        );
        return;
      }
      case 'release':
        letGo(holds.release(link.id, message.channels));
        return;
      case 'report': {
        const worker = workers.get(link.id);
        if (worker !== undefined) worker.figures = message.figures;
        return;
      }
      case 'counts':
        if (workers.has(link.id)) relayCounts(counts.set(link.id, message.counts), link.id);
    }
  }

  function detach(workerId: number): void {
    const worker = workers.get(workerId);
    if (worker === undefined) return;
    worker.off();
    letGo(holds.releaseAll(workerId));
    keys.abandon(workerId);
    workers.delete(workerId);
    relayCounts(counts.drop(workerId), workerId);
  }

  return {
    store,
    attach(link) {
      function primaryOnWorkerMessage(message: unknown): void {
        serve(link, message);
      }
      link.on('message', primaryOnWorkerMessage);
      const off = (): void => {
        link.removeListener('message', primaryOnWorkerMessage);
      };
      workers.set(link.id, { link, figures: NO_FIGURES, off });
      send(link, { hp: 'stats', store: store.stats(), others: totals(link.id), webhook: outbox?.figures() ?? NO_WEBHOOK_FIGURES });
      const known = [...counts.all()];
      if (known.length > 0) send(link, { hp: 'others', counts: known });
      return () => detach(link.id);
    },
    detach,
    totals: () => totals(),
    counts,
    async close() {
      clearInterval(statsTimer);
      await announcer?.close();
      for (const id of [...workers.keys()]) detach(id);
      keys.clear();
      await store.close();
    },
  };
}
