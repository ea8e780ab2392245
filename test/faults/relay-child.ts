/**
 * Child process of relay.test.ts: runs one outbox relay with FAULT_INJECT (e.g.
 * `relay-after-publish=kill`), so the test can kill a relay between publishing and marking.
 */
import { connectNats, startOutboxRelay } from '@remediation/messaging';
import { openDatabase } from '@remediation/persistence';
import { createLogger, faultsFromEnv } from '@remediation/service-runtime';

const logger = createLogger('relay-child', 'info');
const db = await openDatabase(process.env['DATABASE_URL']!);
const nats = await connectNats(process.env['NATS_URL']!, 'relay-child');
const relay = startOutboxRelay({ db, js: nats.js, logger, faultPoint: faultsFromEnv(process.env['FAULT_INJECT'], (m) => logger.warn(m)) });
await new Promise((r) => setTimeout(r, 10_000));
await relay.stop();
await nats.close();
await db.close();
