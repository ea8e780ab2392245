import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { DIFF_RPC_SUBJECT, type DiffReply, DiffRequest } from '@remediation/contracts';
import { describeError, isRemediationError } from '@remediation/errors';
import type { Logger } from 'pino';
import { git } from '../adapters/git.js';
import { normalizeRepository } from '../adapters/mirror.js';
import { join, resolve } from 'node:path';

/**
 * Serves `remediation.rpc.v1.diff` (queue group `git-gateway`): the unified diff between a base
 * commit and a patch commit, read from the mirror (which anchors every patch commit by a ref).
 */
export function serveDiff(nc: NatsConnection, dataRoot: string, logger: Logger): Subscription {
  return nc.subscribe(DIFF_RPC_SUBJECT, {
    queue: 'git-gateway',
    callback: (err, msg) => {
      if (err) {
        logger.error({ err: describeError(err) }, 'diff subscription error');
        return;
      }
      void (async () => {
        let reply: DiffReply;
        try {
          const req = DiffRequest.parse(msg.json());
          const { repoKey } = await normalizeRepository(req.repository);
          const mirrorPath = join(resolve(dataRoot), 'mirrors', `${repoKey}.git`);
          const out = await git(['diff', '--no-color', '--no-ext-diff', req.baseCommit, req.sha], { gitDir: mirrorPath, timeoutMs: 30_000 });
          reply = { ok: true, diff: out.stdout + (out.stdout ? '\n' : '') };
        } catch (e) {
          reply = { ok: false, code: isRemediationError(e) ? e.code : 'DIFF_FAILED', message: describeError(e) };
        }
        msg.respond(JSON.stringify(reply));
      })();
    },
  });
}
