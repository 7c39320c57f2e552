// The largest message a server takes: `--max-message`, or the store's buffer budget when that is smaller.
import type { MessageStore } from './stores/store';

export interface MessageLimit {
  readonly bytes: number;
  /** The flag that sets it, for the words of a `413`. */
  readonly flag: '--max-message' | '--max-buffer-bytes';
  /** The option that sets it, for the words of an app's RangeError. */
  readonly option: 'maxMessage' | 'maxBufferBytes';
}

/** A message larger than the store's whole buffer budget could never be held: it is refused like one over `--max-message`. */
export function messageLimit(maxMessage: number, store: MessageStore): MessageLimit {
  const budget = store.bufferBudget;
  if (budget !== undefined && budget < maxMessage) return { bytes: budget, flag: '--max-buffer-bytes', option: 'maxBufferBytes' };
  return { bytes: maxMessage, flag: '--max-message', option: 'maxMessage' };
}
