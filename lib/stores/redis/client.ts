/** The node-redis surface the Redis store uses: the client's shape, loading the optional package, closing a client. */

/** The parts of a node-redis (v4 or v5) client this store uses. */
export interface RedisClientLike {
  readonly isReady: boolean;
  sendCommand(args: (string | Buffer)[], options?: unknown): Promise<unknown>;
  duplicate(): RedisClientLike;
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: Buffer, channel: Buffer) => void, bufferMode: true): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off?(event: string, listener: (...args: unknown[]) => void): unknown;
  removeListener?(event: string, listener: (...args: unknown[]) => void): unknown;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): unknown;
  disconnect?(): unknown;
}

export interface RedisModule {
  createClient(options: unknown): RedisClientLike;
  RESP_TYPES?: { BLOB_STRING: number };
  commandOptions?: (options: { returnBuffers: boolean }) => unknown;
}

/** Loads the optional `redis` package; throws a clear error when it is not installed. */
export function loadRedis(): RedisModule {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('redis') as RedisModule;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
      throw new Error('--redis needs the redis package: run `npm install redis` (node-redis 4.6 or later)');
    }
    throw err;
  }
}

/** The command options that make replies Buffers (node-redis 5, or 4). */
export function bufferReplies(redis: RedisModule): unknown {
  return redis.RESP_TYPES !== undefined ? { typeMapping: { [redis.RESP_TYPES.BLOB_STRING]: Buffer } } : redis.commandOptions?.({ returnBuffers: true });
}

/** Closes a client politely (half a second at most), then for sure. */
export async function quit(client: RedisClientLike): Promise<void> {
  try {
    if (!client.isReady) throw new Error('not connected');
    const done = client.close !== undefined ? client.close() : client.quit?.();
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 500).unref())]);
  } catch {
    // Fall through to a hard stop.
  }
  try {
    if (client.destroy !== undefined) client.destroy();
    else client.disconnect?.();
  } catch {
    // Already closed.
  }
}
