/**
 * One-message publishes to a channel that come while an append of that channel is on its way to
 * Redis (or in the same turn as the first) go on together as one script call: Redis runs one
 * script and every server hears one event for the group, whose subscribers get the group in one answer.
 */
import type { AppendResult, MessageInput } from '../store';

/** Most publishes one call carries; the rest go with the next call. */
export const GROUP_LIMIT = 256;
/** Most body bytes one call carries (a first publish goes whatever its size). */
export const GROUP_BYTES = 1024 * 1024;

interface Waiting {
  readonly input: MessageInput;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

/** Appends a channel's publishes in arrival order: one answer per input, or the call's error for each. */
export type AppendGroup = (channel: string, inputs: readonly MessageInput[]) => Promise<readonly AppendResult[]>;

export interface Coalescer {
  append(channel: string, input: MessageInput): Promise<AppendResult>;
}

export function createCoalescer(appendGroup: AppendGroup): Coalescer {
  /** The publishes waiting per channel; a channel is here exactly while a call of it is on its way or about to go. */
  const queues = new Map<string, Waiting[]>();

  function take(queue: Waiting[]): Waiting[] {
    let bytes = 0;
    let count = 0;
    while (count < queue.length && count < GROUP_LIMIT) {
      bytes += (queue[count] as Waiting).input.data.length;
      if (count > 0 && bytes > GROUP_BYTES) break;
      count += 1;
    }
    return queue.splice(0, count);
  }

  function send(channel: string, queue: Waiting[]): void {
    const group = take(queue);
    appendGroup(channel, group.map((waiting) => waiting.input)).then(
      (results) => {
        group.forEach((waiting, i) => {
          const result = results[i];
          if (result === undefined) waiting.reject(new Error(`redis answered a group of ${group.length} with ${results.length} results`));
          else waiting.resolve(result);
        });
        next(channel, queue);
      },
      (error: unknown) => {
        for (const waiting of group) waiting.reject(error);
        next(channel, queue);
      },
    );
  }

  function next(channel: string, queue: Waiting[]): void {
    if (queue.length > 0) send(channel, queue);
    else queues.delete(channel);
  }

  return {
    append(channel, input) {
      return new Promise<AppendResult>((resolve, reject) => {
        const queue = queues.get(channel);
        if (queue !== undefined) {
          queue.push({ input, resolve, reject });
          return;
        }
        const fresh: Waiting[] = [{ input, resolve, reject }];
        queues.set(channel, fresh);
        // Publishes of the same turn join the first.
        queueMicrotask(() => send(channel, fresh));
      });
    },
  };
}
