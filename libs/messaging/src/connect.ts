import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

/** An open NATS connection with its JetStream client and manager. */
export interface NatsHandles {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  close(): Promise<void>;
}

/**
 * Connects to NATS (reconnecting forever: an outage must not kill the service) and opens
 * JetStream. `servers` is a comma-separated list, e.g. `nats://127.0.0.1:4222`.
 * @throws when the first connection cannot be made.
 */
export async function connectNats(servers: string, name: string): Promise<NatsHandles> {
  const nc = await connect({
    servers: servers.split(',').map((s) => s.trim()),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  return {
    nc,
    js,
    jsm,
    async close() {
      await nc.drain().catch(() => nc.close());
    },
  };
}
