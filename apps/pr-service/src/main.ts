import Fastify from 'fastify';
import { z } from 'zod';
import { AgentEnv, agentConfigFromEnv } from '@remediation/agent';
import { describeError, isRemediationError } from '@remediation/errors';
import { GithubEnv, createGithubClient, githubAuthFromEnv } from '@remediation/github';
import { BaseEnv, envFlag, loadEnv } from '@remediation/config';
import { runMain } from '@remediation/service-runtime';
import { createGithubProvider } from './adapters/github.js';
import type { PullRequestProvider } from './provider.js';
import { pullRequestMetrics } from '@remediation/metrics';
import { pullRequestCommentHandler } from './handlers/pull-request-comment.js';
import { pullRequestOpenHandler } from './handlers/pull-request-open.js';
import { pullRequestUpdateHandler } from './handlers/pull-request-update.js';
import { PullRequestMaintainer } from './maintainer.js';


/** pr-service environment: GitHub access (App or token), webhooks/polling, and the triage agent. */
const PrEnv = BaseEnv.extend(GithubEnv.shape)
  .extend(AgentEnv.shape)
  .extend({
    /** Secret of the GitHub webhook (`POST /v1/webhooks/github`); unset = webhooks refused, polling on. */
    GITHUB_WEBHOOK_SECRET: z.string().min(8).optional(),
    /** Polling interval of open pull requests, ms; 0 = off. Default 60 000 without a webhook secret, else 0. */
    PR_POLL_INTERVAL_MS: z.coerce.number().int().min(0).optional(),
    /** Logins of this service on GitHub (its comments are never feedback), comma-separated. */
    GITHUB_BOT_LOGINS: z.string().default(''),
    /** git-gateway's commit author e-mail: commits by anyone else on a PR branch stop rebasing. */
    COMMIT_AUTHOR_EMAIL: z.string().email().default('remediation-bot@users.noreply.local'),
    /** Feed failing check runs of the head SHA to the agent as feedback. */
    PR_FEED_FAILING_CHECKS: envFlag.default(false),
    /** A triage of PR feedback cut off (crash, model failing after retries) is retried after this, ms. */
    PR_TRIAGE_RETRY_MS: z.coerce.number().int().positive().default(60_000),
    /** Interface the webhook endpoint listens on (port: HEALTH_PORT). */
    HTTP_HOST: z.string().default('127.0.0.1'),
  });

const env = loadEnv(PrEnv);
/** The pull-request provider: GitHub, through libs/github's client (made at start, reporting to the service's metrics). */
let provider!: PullRequestProvider;
const agent = agentConfigFromEnv(env);
const pollMs = env.PR_POLL_INTERVAL_MS ?? (env.GITHUB_WEBHOOK_SECRET ? 0 : 60_000);
/** Interval of the pass that finishes unfinished triages when polling is off, ms. */
const PENDING_INTERVAL_MS = Math.min(30_000, env.PR_TRIAGE_RETRY_MS);
let maintainer: PullRequestMaintainer | null = null;

await runMain(() => ({
  name: 'pr-service',
  env,
  handlers: (ctx) => {
    provider = createGithubProvider(createGithubClient({ apiUrl: env.GITHUB_API_URL, auth: githubAuthFromEnv(env), metrics: ctx.metrics }));
    maintainer = new PullRequestMaintainer({
      db: ctx.db,
      provider,
      agent,
      worker: ctx.worker,
      logger: ctx.logger,
      botLogins: env.GITHUB_BOT_LOGINS.split(',').map((s) => s.trim()).filter(Boolean),
      commitAuthorEmail: env.COMMIT_AUTHOR_EMAIL,
      feedFailingChecks: env.PR_FEED_FAILING_CHECKS,
      triageRetryMs: env.PR_TRIAGE_RETRY_MS,
      metrics: ctx.metrics,
    });
    return [
      pullRequestOpenHandler({ db: ctx.db, worker: ctx.worker, provider, metrics: ctx.metrics }),
      pullRequestUpdateHandler({ db: ctx.db, provider, onUpdated: (id) => maintainer!.afterUpdate(id), metrics: ctx.metrics }),
      pullRequestCommentHandler({ db: ctx.db, provider, worker: ctx.worker, onCommented: (id) => maintainer!.afterUpdate(id) }),
    ];
  },
  listen: { port: env.HEALTH_PORT, host: env.HTTP_HOST },
  http: async (ctx) => {
    const app = Fastify({ logger: false, bodyLimit: 25 * 1024 * 1024 });
    // The signature is over the raw bytes: keep the body as a string.
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    const deliveries = pullRequestMetrics(ctx.metrics).webhookDeliveries;
    const counted = (outcome: string) => deliveries.inc({ provider: 'github', outcome });
    app.post('/v1/webhooks/github', async (req, reply) => {
      if (!env.GITHUB_WEBHOOK_SECRET) return reply.code(404).send({ code: 'WEBHOOKS_DISABLED', message: 'GITHUB_WEBHOOK_SECRET is not set' });
      try {
        const delivery = await provider.readWebhook(env.GITHUB_WEBHOOK_SECRET, String(req.body ?? ''), req.headers);
        const outcome = await maintainer!.handleWebhook(delivery);
        counted(outcome);
        ctx.logger.info({ delivery: delivery.id, event: delivery.event, action: delivery.action, outcome }, 'webhook');
        return reply.code(200).send({ outcome });
      } catch (err) {
        if (isRemediationError(err) && err.code.startsWith('WEBHOOK_')) {
          ctx.logger.warn({ err: describeError(err) }, 'webhook refused');
          counted('rejected');
          return reply.code(err.code === 'WEBHOOK_SIGNATURE_INVALID' ? 401 : 400).send({ code: err.code, message: err.message });
        }
        counted('failed');
        ctx.logger.error({ err: describeError(err) }, 'webhook failed; GitHub will show it as failed (redeliver, or polling catches up)');
        return reply.code(500).send({ code: 'WEBHOOK_FAILED', message: describeError(err) });
      }
    });
    return app;
  },
  start: async (ctx) => {
    // Polling reads every open PR from GitHub; without it (webhooks), a lighter pass still
    // finishes what webhook handling left (unfinished triages, feedback that waited).
    const pass = pollMs > 0 ? () => maintainer!.pollOnce() : () => maintainer!.startPending();
    let running: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      running = running.then(pass).catch((err) => ctx.logger.warn({ err: describeError(err) }, 'maintenance pass failed'));
    }, pollMs > 0 ? pollMs : PENDING_INTERVAL_MS);
    return async () => {
      clearInterval(timer);
      await running;
    };
  },
}));
