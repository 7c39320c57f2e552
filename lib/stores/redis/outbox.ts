/** The outbox every server on one Redis shares: deliveries wait in Redis, so a sender that dies leaves them to the next. */
import type { Outbox, WebhookFigures } from '../../webhooks/outbox';
import { num, text } from './codec';
import { PRESENCE_SCRIPTS } from './presence-scripts';
import type { Script } from './scripts';

export function createRedisOutbox(run: (script: Script, args: string[]) => Promise<unknown>, me: string, limit: number, figures: () => WebhookFigures): Outbox {
  return {
    async announced() {
      const reply = await run(PRESENCE_SCRIPTS.announced, []);
      return Array.isArray(reply) ? reply.map(text) : [];
    },
    async push(events, delivery) {
      const args = [me, String(limit), delivery === undefined ? '' : `${delivery.id}\n${delivery.body}`, String(events.length)];
      for (const event of events) args.push(event.type, event.channel);
      const result = num(await run(PRESENCE_SCRIPTS.push, args));
      return result === 0 ? 'fenced' : result === 2 ? 'dropped' : 'queued';
    },
    async head() {
      const reply = await run(PRESENCE_SCRIPTS.head, []);
      if (reply === null || reply === undefined) return undefined;
      const entry = text(reply);
      const cut = entry.indexOf('\n');
      return cut < 0 ? undefined : { id: entry.slice(0, cut), body: entry.slice(cut + 1) };
    },
    async settle(id, delivered) {
      await run(PRESENCE_SCRIPTS.settle, [id, delivered ? 'deliveries' : 'failures']);
    },
    figures,
  };
}
