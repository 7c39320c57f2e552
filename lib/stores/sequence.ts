/** An entry of a run ordered by sequence number; slots before the run's start may be emptied. */
type Sequenced = { readonly seq: number } | undefined;

/** Where in `entries`, from `start` on (all present), the first entry after `seq` stands. */
export function firstAfterSeq(entries: readonly Sequenced[], start: number, seq: number): number {
  let low = start;
  let high = entries.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((entries[middle] as { readonly seq: number }).seq <= seq) low = middle + 1;
    else high = middle;
  }
  return low;
}
