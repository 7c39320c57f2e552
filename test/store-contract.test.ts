/** The store contract run against every store: memory, a cluster (a primary and a worker over an IPC channel) and Redis. */
import { createClusterPrimary } from '../lib/stores/cluster/primary';
import { createClusterStore } from '../lib/stores/cluster/worker';
import { createMemoryStore } from '../lib/stores/memory/store';
import { createRedisStore } from '../lib/stores/redis/store';
import type { MessageStore } from '../lib/stores/store';
import { linkPair } from './support/cluster-link';
import { startRedis } from './support/redis-server';
import { type StoreFixture, storeContract } from './support/store-contract';

/** Closes, in the end, what a fixture made. */
function closing(): { add(close: () => Promise<void>): void; close(): Promise<void> } {
  const list: (() => Promise<void>)[] = [];
  return {
    add: (close) => void list.push(close),
    async close() {
      for (const close of list.reverse()) await close();
    },
  };
}

storeContract('memory', async (): Promise<StoreFixture> => {
  const made = closing();
  return {
    async make(limits) {
      const store = createMemoryStore(limits);
      made.add(() => store.close());
      return store;
    },
    close: () => made.close(),
  };
});

storeContract('cluster (a worker and its primary)', async (): Promise<StoreFixture> => {
  const made = closing();
  let workers = 0;
  return {
    async make(limits): Promise<MessageStore> {
      const primary = createClusterPrimary({ buffer: limits.buffer, messageTtl: limits.messageTtl, maxChannels: limits.maxChannels, statsInterval: 20 });
      const link = linkPair(++workers);
      primary.attach(link.worker);
      const store = createClusterStore({ link: link.primary, isHeld: limits.isHeld, buffer: limits.buffer, messageTtl: limits.messageTtl, reportInterval: 20 });
      made.add(() => primary.close());
      made.add(() => store.close());
      return store;
    },
    close: () => made.close(),
  };
});

storeContract('redis', async (): Promise<StoreFixture> => {
  const redis = await startRedis();
  const made = closing();
  made.add(() => redis.stop());
  let stores = 0;
  return {
    async make(limits) {
      // Its own key prefix: the tests' channels never meet. A short grace: idle channels go soon.
      const store = createRedisStore({ ...limits, url: redis.url, keyPrefix: `contract${++stores}:`, commandTimeout: 2000, channelGrace: 300 });
      made.add(() => store.close());
      await store.ready();
      return store;
    },
    close: () => made.close(),
  };
});
