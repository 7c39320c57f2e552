/** Cursor tokens of one sequence per epoch (every store's): whether a message comes after a position. */

/** The parts of a token that order it: the epoch (one run of the sequence) and the number in it. */
export interface SequencePlace {
  readonly epoch: string;
  readonly seq: number;
}

/**
 * Whether a message (at `message`) comes after a position (at `position`); a position that is no
 * token (null), or one of another epoch, comes before every message.
 */
export function comesAfter(message: SequencePlace | null, position: SequencePlace | null): boolean {
  if (position === null || message === null || position.epoch !== message.epoch) return true;
  return message.seq > position.seq;
}
