/** The Redis store's two connections: one runs scripts within a deadline, the other hears the event stream. */
import { unavailable } from '../store';
import { type RedisClientLike, type RedisModule, bufferReplies, quit } from './client';
import type { Script } from './scripts';

export interface ConnectionOptions {
  /** A server URL, for a client of the store's own. */
  url: string;
  /** A connected client owned by the embedder (never closed here). */
  client: RedisClientLike | undefined;
  /** Milliseconds a command may take. */
  commandTimeout: number;
  /** The key prefix, every script's first argument. */
  prefix: string;
}

const closedError = () => unavailable('the store', 'is closed');
const failed = (cause: unknown) => unavailable('redis is unavailable:', cause);

export class RedisConnection {
  readonly client: RedisClientLike;
  /** The event stream's connection (a subscriber can run no other command). */
  readonly subscriber: RedisClientLike;
  private readonly own: boolean;
  private readonly replyOptions: unknown;
  private readonly timeout: number;
  private readonly prefix: string;
  private everReady: boolean;
  private readyWaiters: (() => void)[] = [];
  private closed = false;
  private readonly onClientReady = (): void => {
    this.everReady = true;
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const waiter of waiters) waiter();
  };

  constructor(redis: RedisModule, options: ConnectionOptions) {
    this.timeout = options.commandTimeout;
    this.prefix = options.prefix;
    this.replyOptions = bufferReplies(redis);
    this.own = options.client === undefined;
    this.client = options.client ?? redis.createClient({
      url: options.url,
      disableOfflineQueue: true,
      socket: { connectTimeout: options.commandTimeout, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000) },
    });
    this.subscriber = this.client.duplicate();
    this.client.on('error', onClientError);
    this.subscriber.on('error', onClientError);
    this.client.on('ready', this.onClientReady);
    this.everReady = this.client.isReady;
  }

  /** Connects (the store's own client, and the subscriber) and subscribes to the event stream. */
  async connect(channel: string, onEvent: (payload: Buffer) => void): Promise<void> {
    if (this.own) await this.client.connect();
    if (this.closed) throw closedError();
    await this.subscriber.connect();
    if (this.closed) {
      await quit(this.subscriber);
      throw closedError();
    }
    await this.subscriber.subscribe(channel, onEvent, true);
  }

  /** Runs a script, loading it after a Redis restart; every failure is `store_unavailable`. */
  async run(script: Script, args: (string | Buffer)[]): Promise<unknown> {
    if (this.closed) throw closedError();
    await this.whenReady();
    const full = [this.prefix, ...args];
    try {
      try {
        return await this.withTimeout(this.client.sendCommand(['EVALSHA', script.sha, '0', ...full], this.replyOptions));
      } catch (err) {
        if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
        return await this.withTimeout(this.client.sendCommand(['EVAL', script.source, '0', ...full], this.replyOptions));
      }
    } catch (err) {
      throw failed(err);
    }
  }

  /** A promise, failed with `store_unavailable` when it takes longer than the command timeout. */
  withTimeout<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(failed(new Error(`no answer within ${this.timeout} ms`))), this.timeout);
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await quit(this.subscriber);
    if (this.own) await quit(this.client);
    else {
      const off = this.client.off ?? this.client.removeListener;
      off?.call(this.client, 'error', onClientError);
      off?.call(this.client, 'ready', this.onClientReady);
    }
  }

  /** Resolves when the command connection is up: at once, or (before it ever was) within the timeout. */
  private whenReady(): Promise<void> {
    if (this.client.isReady) return Promise.resolve();
    if (this.everReady) return Promise.reject(failed(new Error('not connected')));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((waiter) => waiter !== done);
        reject(failed(new Error('not connected')));
      }, this.timeout);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.readyWaiters.push(done);
    });
  }
}

function onClientError(): void {
  // node-redis reports every failed reconnect here; the store answers `store_unavailable`
  // meanwhile and the client reconnects by itself.
}
