/** The memory store's cursor tokens, `<epoch>-<seq>`: made and read here, for it and the cluster's workers. */
import { type SequencePlace, comesAfter } from '../tokens';

/** A token's parts; the epoch is new at every start of the store that issued it. */
export type MemoryToken = SequencePlace;

export function memoryToken(epoch: string, seq: number): string {
  return `${epoch}-${seq}`;
}

/** The parts of a token, or null when it is not one. */
export function parseMemoryToken(token: string): MemoryToken | null {
  const dash = token.lastIndexOf('-');
  if (dash < 0) return null;
  const digits = token.slice(dash + 1);
  if (!/^\d{1,15}$/.test(digits)) return null;
  return { epoch: token.slice(0, dash), seq: Number(digits) };
}

/** Whether a message's token comes after a position, knowing only the tokens (see comesAfter). */
export function followsPosition(token: string, position: string): boolean {
  return comesAfter(parseMemoryToken(token), parseMemoryToken(position));
}
