// The public API of the package: re-exports only.
export { createHoldpush } from './holdpush';
export type { CreateHoldpushOptions, Holdpush, PublishOptions, PublishResult, StoreContext, StoreFactory } from './api';
export { createHoldpushServer } from './http/http-server';
export type { HoldpushServer } from './http/http-server';
export { createMemoryStore } from './stores/memory/store';
export type { MemoryStoreOptions } from './stores/memory/store';
export type { HoldpushOptions, FirstMessage, LogFormat } from './options';
export { defaultOptions } from './options';
export type { Stats } from './ops';
export type { OccupancyEvent, OccupancyType } from './presence/occupancy';
export type { WebhookFigures } from './webhooks/outbox';
export { StoreUnavailableError, messageId } from './stores/store';
export type { ChannelInfo, MessageInput, MessageStore, ReadResult, StoreEvents, StoreKind, StoreStats, StoredMessage } from './stores/store';
export { signJwt, verifyJwt } from './jwt';
export { createRedisStore } from './stores/redis/store';
export type { RedisClientLike } from './stores/redis/client';
export type { RedisStore, RedisStoreOptions } from './stores/redis/store';
