import type { CommandContext, CommandHandler } from '@remediation/messaging';
import { type Database, loadCodebase, loadExecution } from '@remediation/persistence';
import type { RepositoryPolicy } from '@remediation/contracts';
import { type Registry, timeGit } from '@remediation/metrics';
import { assertRepositoryAllowed, ensureMirror, resolveBranch } from '../adapters/mirror.js';
import type { MirrorSource } from '../adapters/mirror-source.js';
import type { WorkspaceDriver } from '../adapters/workspace/index.js';
import type { GitCredentials } from '../adapters/askpass.js';
import { ensureWorkspace } from './workspaces.js';

/** Settings shared by git-gateway handlers. */
export interface GatewayDeps {
  db: Database;
  worker: string;
  /** Persistent root: mirrors and base snapshots. */
  dataRoot: string;
  /** Local root: overlay upper/work dirs. */
  localRoot: string;
  commitAuthor: { name: string; email: string };
  /** The internal mirror (bundle-first clone, then incremental fetch); upstream directly when absent. */
  mirrorSource?: MirrorSource;
  /** Workspace driver of this node: overlay, or copy where overlayfs cannot mount. */
  driver: WorkspaceDriver;
  /**
   * Credentials for one git operation (fetch, ls-remote, push) over HTTP(S) on `owner/repo` (a
   * GitHub App installation token minted now); absent = none (local paths, SSH, or a credential
   * helper).
   */
  gitCredentials?: (owner: string, repo: string) => Promise<GitCredentials>;
  /**
   * The codebase policy, re-checked before any git operation on a codebase's repository
   * (`assertRepositoryAllowed`); env `REPOSITORY_HOSTS_ALLOWED` / `ALLOW_LOCAL_REPOSITORIES` as for the API.
   */
  repositoryPolicy: RepositoryPolicy;
  /** Where git latencies are reported (`remediation_git_operation_duration_seconds`). */
  metrics?: Registry;
}

/**
 * Credentials for one git operation on the codebase's remote: for an HTTP(S) URL
 * `https://<host>/<owner>/<repo>[.git]`, minted now through `deps.gitCredentials` (never stored);
 * undefined for local paths, SSH URLs, or when no credentials are configured.
 * @throws what `deps.gitCredentials` throws (e.g. `GITHUB_APP_NOT_INSTALLED`, `GITHUB_AUTH_UNAVAILABLE`).
 */
export async function remoteCredentials(deps: GatewayDeps, repositoryUrl: string): Promise<GitCredentials | undefined> {
  if (!deps.gitCredentials || !/^https?:\/\//i.test(repositoryUrl)) return undefined;
  const parts = new URL(repositoryUrl).pathname.replace(/\.git$/, '').split('/').filter(Boolean);
  if (parts.length < 2) return undefined;
  return deps.gitCredentials(parts.at(-2)!, parts.at(-1)!);
}

/** Marks a patch execution failed at its current step (every git-gateway patch step's give-up). */
export async function failPatch(ctx: CommandContext, error: { code: string; message: string }): Promise<void> {
  await ctx.transition({ executionId: ctx.payload.executionId, event: { type: 'patch.failed', error } });
}

/**
 * `workspace.prepare`: mirror the repository (clone once, then fetch), resolve the base branch
 * to its current head (executions start from the current head, not a stale plan commit),
 * extract the base snapshot, mount the execution's overlay workspace, and move to `editing`
 * recording base branch and commit. Clone/fetch progress is a heartbeat and a history entry.
 */
export function workspacePrepareHandler(deps: GatewayDeps): CommandHandler {
  return {
    kind: 'workspace.prepare',
    handle: (ctx) => timeGit(deps.metrics, 'workspace_ready', () => prepare(ctx)),
    giveUp: failPatch,
  };

  async function prepare(ctx: CommandContext): Promise<void> {
    const { executionId, remediationId } = ctx.payload;
    const exec = await loadExecution(deps.db, executionId);
    const { repository } = await loadCodebase(deps.db, remediationId);
    assertRepositoryAllowed(repository, deps.repositoryPolicy);
    const credentials = await remoteCredentials(deps, repository);
    const mirror = await timeGit(deps.metrics, 'mirror_fetch', () => ensureMirror({
      dataRoot: deps.dataRoot,
      repository,
      ...(credentials ? { credentials } : {}),
      signal: ctx.signal,
      ...(deps.mirrorSource ? { source: deps.mirrorSource } : {}),
      // Each progress step is a heartbeat, and (at most once a second) a history entry.
      onProgress: (p) =>
        ctx.heartbeat({
          event: 'workspace.progress',
          operation: p.operation,
          phase: p.phase,
          received: p.received,
          total: p.total,
          ...(p.detail ? { detail: p.detail } : {}),
        }),
    }));
    ctx.heartbeat();
    // A redelivery keeps the base it recorded; a first delivery starts from the branch's head.
    const base =
      exec.baseCommit && exec.baseBranch
        ? { commit: exec.baseCommit, branch: exec.baseBranch }
        : await resolveBranch({ mirrorPath: mirror.mirrorPath, ...(exec.baseBranch ? { branch: exec.baseBranch } : {}) });
    ctx.heartbeat();
    const ready = await ensureWorkspace(deps, executionId, base);
    await ctx.transition({
      executionId,
      event: { type: 'workspace.ready', baseCommit: base.commit },
      // `mirror`: `cloned` or `fetched` (counted by the two-node fault test: a takeover never clones).
      details: { baseBranch: base.branch, repoKey: mirror.repoKey, mirror: mirror.cloned ? 'cloned' : 'fetched', driver: deps.driver.name, restoredFrom: ready.restoredFrom },
      set: { baseCommit: base.commit, baseBranch: base.branch },
    });
  }
}
