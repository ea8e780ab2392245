import type { BaseEnv } from '@remediation/config';
import { describeError } from '@remediation/errors';
import { type Database, type RetentionPolicy, pruneExpired } from '@remediation/persistence';
import type { Logger } from 'pino';

/** The retention policy the `RETENTION_*_MS` variables set (README "Service environment"). */
export function retentionFromEnv(env: BaseEnv): RetentionPolicy {
  return {
    outboxMs: env.RETENTION_OUTBOX_MS,
    processedMessagesMs: env.RETENTION_PROCESSED_MESSAGES_MS,
    stepAttemptsMs: env.RETENTION_STEP_ATTEMPTS_MS,
    heartbeatsMs: env.RETENTION_HEARTBEATS_MS,
    webhookDeliveriesMs: env.RETENTION_WEBHOOK_DELIVERIES_MS,
  };
}

/**
 * Prunes expired operational records, and finished remediations past their tenant's retention,
 * every `PRUNE_INTERVAL_MS` (first run after one interval; `0` turns it off). The API runs it
 * (`ServiceDefinition.retentionSweep`); `pruneExpired`'s advisory lock lets one API replica prune at
 * a time. A failing sweep (database away) is logged and tried at the next interval.
 */
export function startRetentionSweep(db: Database, env: BaseEnv, logger: Logger): { stop(): Promise<void> } {
  if (env.PRUNE_INTERVAL_MS === 0) return { stop: async () => undefined };
  const policy = retentionFromEnv(env);
  let running: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (running) return;
    running = pruneExpired(db, policy)
      .then((counts) => {
        if (Object.values(counts).some((n) => n > 0)) logger.info({ pruned: counts }, 'retention: pruned expired records');
      })
      .catch((err) => logger.warn({ err: describeError(err) }, 'retention sweep failed'))
      .finally(() => {
        running = null;
      });
  }, env.PRUNE_INTERVAL_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
