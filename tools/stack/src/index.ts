export { startStack, removeDataDir, SERVICES, NODE_SERVICES } from './stack.js';
export type { Stack, StackOptions, ServiceName } from './stack.js';
export { startNatsCluster, startNatsServer, natsServerBinary } from './nats-server.js';
export type { OwnNatsCluster, OwnNatsServer } from './nats-server.js';
export { freePort, spawnLogged, stopProcess, waitReady } from './processes.js';
export type { StackProcess } from './processes.js';
export { unmountUnder } from './mounts.js';
export { startTcpProxy } from './tcp-proxy.js';
export type { TcpProxy } from './tcp-proxy.js';
