// Occupancy in one createHoldpush: decided here (one process), when elected (Redis), or not here at all (a cluster's worker: its primary decides).
import { EventEmitter } from 'node:events';
import type { HoldpushOptions } from '../options';
import { NO_WEBHOOK_FIGURES, type WebhookFigures, createMemoryOutbox } from '../webhooks/outbox';
import { type Announcer, createAnnouncer } from './announcer';
import type { LocalCounts } from './local-counts';
import type { SharedCounts } from './shared';

export interface PresenceOptions {
  readonly options: HoldpushOptions;
  readonly local: LocalCounts;
  /** The store's capability, when its processes share their counts. */
  readonly shared: SharedCounts | undefined;
  /** Subscribers of a channel in the whole deployment now. */
  subscribers(channel: string): number;
  /** The channels this process holds now. */
  held(): Iterable<string>;
}

export interface Presence {
  /** Where `holdpush.on('occupancy', ...)` listeners are kept. */
  readonly emitter: EventEmitter;
  /** The webhook's figures: the deployment's where it is shared, else this process's. */
  webhook(): WebhookFigures;
  /** Records what is gathered and stops deciding. */
  close(): Promise<void>;
}

export function createPresence(spec: PresenceOptions): Presence {
  const { options, local, shared } = spec;
  const emitter = new EventEmitter();
  const election = shared?.election;
  const wanted = (): boolean => options.webhookUrl !== undefined || emitter.listenerCount('occupancy') > 0;
  // A cluster's worker shares counts but elects nobody: its primary decides for every worker.
  if (shared !== undefined && election === undefined) {
    return { emitter, webhook: () => shared.webhook() ?? NO_WEBHOOK_FIGURES, close: async () => undefined };
  }
  const outbox = election?.outbox(options.webhookQueue) ?? createMemoryOutbox(options.webhookQueue);
  /** Channels whose count changed, as the election's beats told (Redis). */
  const changed = new Set<string>();
  const announcer: Announcer = createAnnouncer({
    options,
    count: spec.subscribers,
    changed() {
      if (election === undefined) return local.take().keys();
      const list = [...changed];
      changed.clear();
      return list;
    },
    present: () => new Set([...spec.held(), ...(shared?.channels() ?? [])]),
    outbox,
    emit: (event) => emitter.emit('occupancy', event),
  });

  if (election !== undefined) {
    election.stand(wanted, (news) => {
      if (!news.sender) {
        if (announcer.deciding) announcer.stop();
        return;
      }
      if (announcer.deciding) for (const channel of news.changed) changed.add(channel);
      else {
        changed.clear();
        announcer.start();
      }
    });
  } else {
    // One process: it decides as soon as anyone listens (the webhook, or the app).
    const begin = (): void => {
      local.start();
      announcer.start();
    };
    if (wanted()) begin();
    else {
      emitter.on('newListener', function presenceOnNewListener(event: string | symbol) {
        if (event !== 'occupancy') return;
        emitter.removeListener('newListener', presenceOnNewListener);
        begin();
      });
    }
  }

  return {
    emitter,
    webhook: () => shared?.webhook() ?? outbox.figures(),
    close: () => announcer.close(),
  };
}
