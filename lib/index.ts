// The public API of the package: re-exports only.
export { createHoldpush } from './holdpush';
export type { CreateHoldpushOptions, Holdpush, PublishOptions, PublishResult, StoreContext, StoreFactory } from './api';
export { createHoldpushServer } from './http/http-server';
export type { HoldpushServer } from './http/http-server';
export { createMemoryStore } from './memory-store';
export type { MemoryStoreOptions } from './memory-store';
export type { HoldpushOptions, FirstMessage, LogFormat } from './options';
export { defaultOptions } from './options';
export type { Stats } from './ops';
export { StoreUnavailableError, messageId } from './store';
export type { ChannelInfo, MessageInput, MessageStore, ReadResult, StoreEvents, StoreKind, StoreStats, StoredMessage } from './store';
export { signJwt, verifyJwt } from './jwt';
export { createRedisStore } from './redis-store';
export type { RedisClientLike, RedisStore, RedisStoreOptions } from './redis-store';
