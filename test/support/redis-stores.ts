import { after, before } from 'node:test';
import { type RedisStore, type RedisStoreOptions, createRedisStore } from '../../lib/stores/redis/store';
import { type RedisServer, startRedis } from './redis-server';

export interface RedisStores {
  /** The redis-server's URL (once the suite's `before` has run). */
  readonly url: string;
  /** A store on it; each call gets its own key prefix unless given one, so tests do not meet. */
  make(overrides?: Partial<RedisStoreOptions>, prefix?: string): RedisStore;
}

/**
 * One redis-server for the suite it is called in, and the stores its tests make on it: started
 * in the suite's `before`, every store closed and the server stopped in its `after`.
 */
export function useRedisStores(defaults: Partial<RedisStoreOptions> = {}): RedisStores {
  let redis: RedisServer | undefined;
  let prefixes = 0;
  const open: RedisStore[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const store of open) await store.close();
    await redis?.stop();
  });
  const url = (): string => {
    if (redis === undefined) throw new Error('the redis-server starts in the suite\'s before hook');
    return redis.url;
  };
  return {
    get url() {
      return url();
    },
    make(overrides = {}, prefix) {
      const store = createRedisStore({
        url: url(),
        buffer: 100,
        messageTtl: 60,
        maxChannels: 1000,
        isHeld: () => false,
        keyPrefix: prefix ?? `t${++prefixes}:`,
        commandTimeout: 1000,
        ...defaults,
        ...overrides,
      });
      open.push(store);
      return store;
    },
  };
}
