export { ensureStreams, ensureConsumer, DEFAULT_STREAMS, EVENT_RETENTION_MS, DUPLICATE_WINDOW_MS } from './streams.js';
export type { StreamNames, ConsumerSettings } from './streams.js';
export { startCommandConsumer, retryDelayMs, durableName } from './consumer.js';
export type { CommandContext, CommandHandler, ConsumerRuntimeOptions, RunningConsumer } from './consumer.js';
export { startOutboxRelay } from './relay.js';
export type { RunningRelay } from './relay.js';
export { connectNats } from './connect.js';
export type { NatsHandles } from './connect.js';
