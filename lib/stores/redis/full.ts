// A write Redis refused for memory: how it says so, and the error holdpush answers with.
import { StoreUnavailableError } from '../store';

/**
 * Whether Redis refused a command for memory (`OOM command not allowed when used memory >
 * 'maxmemory'`). At its `maxmemory` with `noeviction`, Redis refuses writes that would take more
 * memory and still runs reads and deletions. A script is refused at its first such write,
 * before it has changed anything (Redis lets a script that has written go on, so as not to stop
 * it halfway): a refused append stored nothing and published nothing.
 */
export function refusedForMemory(error: unknown): boolean {
  return error instanceof Error && error.message.includes('OOM command not allowed');
}

/** A write Redis refused for memory: answered 503, like any store that cannot serve now. */
export class RedisFullError extends StoreUnavailableError {
  constructor() {
    super('store_unavailable', 'redis is full (its maxmemory): it refused the write and nothing was stored; retry later, or delete channels to make room');
  }
}
