import { resolve } from 'node:path';
import { z } from 'zod';
import { BaseEnv, loadEnv } from '@remediation/config';
import { repositoryPolicyFromEnv } from '@remediation/contracts';
import { runMain } from '@remediation/service-runtime';
import type { Registry } from '@remediation/metrics';
import { GithubEnv, createGithubClient, githubAuthFromEnv } from '@remediation/github';
import { type WorkspaceDriver, checkOverlaySupport, selectDriver } from './adapters/workspace/index.js';
import { serveWorkspaces } from './handlers/workspaces.js';
import { httpMirrorSource } from './adapters/mirror-source.js';
import { branchPushHandler } from './handlers/push.js';
import { patchCommitHandler } from './handlers/commit.js';
import { workspaceReleaseHandler } from './handlers/release.js';
import { serveDiff } from './handlers/diff.js';
import { startGc } from './handlers/gc.js';
import { type GatewayDeps, workspacePrepareHandler } from './handlers/workspace.js';
import { closeLongLivedGit } from './adapters/long-lived-git.js';

/** git-gateway environment: data roots and the commit author. */
const GatewayEnv = BaseEnv.extend(GithubEnv.shape).extend({
  COMMIT_AUTHOR_NAME: z.string().min(1).default('Remediation Bot'),
  COMMIT_AUTHOR_EMAIL: z.string().email().default('remediation-bot@users.noreply.local'),
  /** Internal git mirror (bundle-first clone protocol, see adapters/mirror-source.ts); unset = clone upstream. */
  MIRROR_URL: z.string().url().optional(),
  /** Bearer token for the mirror's bundle downloads. */
  MIRROR_TOKEN: z.string().min(1).optional(),
  /** Workspace driver: `auto` (overlay, else copy), `overlay` (required), or `copy`. */
  WORKSPACE_DRIVER: z.enum(['auto', 'overlay', 'copy']).default('auto'),
  /** How often GC runs, ms. */
  GC_INTERVAL_MS: z.coerce.number().int().positive().default(10 * 60_000),
  /** Workspaces of terminal executions are released this long after they ended, ms. */
  WORKSPACE_RETENTION_MS: z.coerce.number().int().min(0).default(24 * 3600_000),
  /** Base snapshots unused this long are removed, ms. */
  SNAPSHOT_UNUSED_MS: z.coerce.number().int().min(0).default(7 * 24 * 3600_000),
});

const env = loadEnv(GatewayEnv);
// Codebase policy re-checked before git runs: REPOSITORY_HOSTS_ALLOWED, ALLOW_LOCAL_REPOSITORIES (as for the API).
const repositoryPolicy = repositoryPolicyFromEnv();
/** Credentials for HTTPS remotes: minted per git operation when GitHub auth (App or token) is configured. */
/** GitHub credentials for git over HTTPS, when configured (made at start, reporting to the service's metrics). */
const githubFor = (metrics: Registry) =>
  env.GITHUB_APP_ID !== undefined || env.GITHUB_TOKEN ? createGithubClient({ apiUrl: env.GITHUB_API_URL, auth: githubAuthFromEnv(env), metrics }) : null;

/** The workspace driver of this node, chosen once at start (before any command is consumed). */
let driver: WorkspaceDriver | undefined;

await runMain(() => ({
  name: 'git-gateway',
  env,
  node: true,
  async start(ctx) {
    // overlay where it mounts, else the copy driver; WORKSPACE_DRIVER=overlay makes overlay
    // mandatory (start fails with the reason instead).
    if (env.WORKSPACE_DRIVER === 'overlay') await checkOverlaySupport(resolve(env.LOCAL_ROOT));
    driver = await selectDriver(resolve(env.LOCAL_ROOT), ctx.logger, env.WORKSPACE_DRIVER === 'auto' ? {} : { prefer: env.WORKSPACE_DRIVER });
    const sub = serveDiff(ctx.nats.nc, env.DATA_ROOT, ctx.logger);
    const workspaceSubs = serveWorkspaces(
      ctx.nats.nc,
      { db: ctx.db, dataRoot: resolve(env.DATA_ROOT), localRoot: resolve(env.LOCAL_ROOT), driver, commitAuthor: { name: env.COMMIT_AUTHOR_NAME, email: env.COMMIT_AUTHOR_EMAIL }, nodeId: env.NODE_ID },
      ctx.logger,
    );
    const gc = startGc({ db: ctx.db, logger: ctx.logger, dataRoot: resolve(env.DATA_ROOT), localRoot: resolve(env.LOCAL_ROOT), intervalMs: env.GC_INTERVAL_MS, workspaceRetentionMs: env.WORKSPACE_RETENTION_MS, snapshotUnusedMs: env.SNAPSHOT_UNUSED_MS });
    return async () => {
      sub.unsubscribe();
      for (const s of workspaceSubs) s.unsubscribe();
      await gc.stop();
      closeLongLivedGit();
    };
  },
  handlers: (ctx) => {
    const github = githubFor(ctx.metrics);
    const deps: GatewayDeps = {
      driver: driver!,
      db: ctx.db,
      worker: ctx.worker,
      dataRoot: resolve(env.DATA_ROOT),
      localRoot: resolve(env.LOCAL_ROOT),
      commitAuthor: { name: env.COMMIT_AUTHOR_NAME, email: env.COMMIT_AUTHOR_EMAIL },
      repositoryPolicy,
      metrics: ctx.metrics,
      ...(github ? { gitCredentials: (owner: string, repo: string) => github.gitCredentials(owner, repo) } : {}),
      ...(env.MIRROR_URL
        ? { mirrorSource: httpMirrorSource({ baseUrl: env.MIRROR_URL, ...(env.MIRROR_TOKEN ? { headers: { authorization: `Bearer ${env.MIRROR_TOKEN}` } } : {}) }) }
        : {}),
    };
    return [workspacePrepareHandler(deps), patchCommitHandler(deps), branchPushHandler(deps), workspaceReleaseHandler(deps)];
  },
}));
