import type { Pool, PoolClient } from 'pg';

/**
 * Returns a pooled connection to `pg`'s pool as soon as the connection is lost while checked out,
 * instead of when its holder releases it.
 *
 * Why: Kysely 0.29 (under MikroORM 7) never releases the connection of a controlled transaction
 * whose `begin`, `commit` or `rollback` statement throws (kysely-org/kysely#1990,
 * https://github.com/kysely-org/kysely/issues/1990). A connection killed by the server in that
 * window (`pg_terminate_backend`, a failover, a proxy dropping it) therefore stayed checked out for
 * good; after `max` such losses every later query waited for a free connection forever and the
 * service hung with its heartbeats alive (docs/decisions/0027-database-connection-loss.md).
 *
 * How: `pool.connect` is wrapped so each checked-out client's `release` becomes idempotent, and the
 * client's `end` or `error` event (the socket closed, or a fatal error such as SQLSTATE 57P01)
 * releases it with that error, which makes the pool discard it (`pg-pool` removes a client
 * released with an error). The holder's own later `release()` is then a no-op; its queries on the
 * dead client reject ("Client was closed and is not queryable"), as they did before.
 *
 * @param pool the `pg` pool MikroORM created (its `onPoolCreated` hook); patched in place.
 */
export function releaseLostConnections(pool: Pool): void {
  type Callback = (err: Error | undefined, client: PoolClient | undefined, done: PoolClient['release']) => void;
  const connect = pool.connect.bind(pool) as unknown as (callback?: Callback) => Promise<PoolClient> | undefined;
  (pool as { connect: unknown }).connect = (callback?: Callback) => {
    // pg-pool's own `pool.query` uses the callback form.
    if (typeof callback === 'function') {
      return connect((err, client, done) => {
        if (client) guard(client);
        callback(err, client, client ? client.release : done);
      });
    }
    return (connect() as Promise<PoolClient>).then((client) => {
      guard(client);
      return client;
    });
  };
}

function guard(client: PoolClient): void {
  const release = client.release;
  let released = false;
  const lost = (err?: Error) => {
    if (released) return;
    released = true;
    client.removeListener('end', onEnd);
    client.removeListener('error', lost);
    release.call(client, err ?? new Error('connection lost while checked out'));
  };
  const onEnd = () => lost(new Error('connection ended while checked out'));
  client.once('end', onEnd);
  client.once('error', lost);
  client.release = ((err?: Error | boolean) => {
    if (released) return;
    released = true;
    client.removeListener('end', onEnd);
    client.removeListener('error', lost);
    release.call(client, err);
  }) as PoolClient['release'];
}
