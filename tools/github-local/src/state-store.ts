import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One pull request as github-local stores it (the API response is rendered from this).
 * Timestamps are ISO 8601 UTC without milliseconds, as GitHub sends them (`2024-05-01T12:00:00Z`).
 */
export interface PullRecord {
  /** Global id (GitHub's `id`), unique across all repositories of this server. */
  id: number;
  /** Number within the repository (GitHub's `number`), starting at 1. Issues and PRs share it. */
  number: number;
  /** Repository owner, as in the URL. */
  owner: string;
  /** Repository name, as in the URL (without `.git`). */
  repo: string;
  title: string;
  body: string | null;
  state: 'open' | 'closed';
  draft: boolean;
  /** Head branch (without `owner:`) and its commit SHA as last read from the bare repo. */
  head: { ref: string; sha: string };
  /** Base branch and its commit SHA as last read from the bare repo. */
  base: { ref: string; sha: string };
  /** Login of the author (`x-github-local-user` header of the create request, else the server's actor). */
  user: string;
  maintainerCanModify: boolean;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  /** When the PR was merged (`pulls/merge`), else null. Merged PRs are also `state: 'closed'`. */
  mergedAt: string | null;
  /** SHA of the commit the merge put on the base branch (merge, squash or last rebased commit), else null. */
  mergeCommitSha: string | null;
  /** Login of who merged it, else null. */
  mergedBy: string | null;
}

/** One issue comment (on a pull request: PRs are issues on GitHub). */
export interface CommentRecord {
  /** Global id (GitHub's `id`), unique across all repositories of this server. */
  id: number;
  owner: string;
  repo: string;
  /** Number of the pull request the comment is on. */
  issueNumber: number;
  body: string;
  /** Login of the author (`x-github-local-user` header, else the server's actor). */
  user: string;
  createdAt: string;
  updatedAt: string;
}

/** Review state as the REST API reports it (`pull-request-review.state`). */
export type ReviewState = 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED' | 'PENDING';

/** One pull request review (`pulls/create-review`). */
export interface ReviewRecord {
  /** Global id (GitHub's `id`), unique across all repositories of this server. */
  id: number;
  owner: string;
  repo: string;
  pullNumber: number;
  /** Login of the reviewer (`x-github-local-user` header, else the server's actor). */
  user: string;
  body: string;
  /** `PENDING` when created without `event` (not submitted, no webhook). */
  state: ReviewState;
  /** Commit the review is on (the PR head when created, unless `commit_id` was given). */
  commitId: string;
  /** When submitted; null while `PENDING`. */
  submittedAt: string | null;
}

/** One review comment on a line of a pull request's diff (created with a review). */
export interface ReviewCommentRecord {
  /** Global id (GitHub's `id`), unique across all repositories of this server. */
  id: number;
  owner: string;
  repo: string;
  pullNumber: number;
  /** Review the comment was posted with. */
  reviewId: number;
  /** File path relative to the repository root. */
  path: string;
  /** Line in the file (new file for side `RIGHT`, old file for `LEFT`) the comment is on. */
  line: number;
  side: 'LEFT' | 'RIGHT';
  /** First line of a multi-line comment, else null. */
  startLine: number | null;
  startSide: 'LEFT' | 'RIGHT' | null;
  /** Line index in the file's diff, counted from the line below its first `@@` header (GitHub's `position`). */
  position: number;
  /** The diff from the hunk header down to the commented line (GitHub's `diff_hunk`). */
  diffHunk: string;
  /** Commit the comment is on. */
  commitId: string;
  body: string;
  user: string;
  createdAt: string;
  updatedAt: string;
}

/** Check run status (`check-run.status`) github-local accepts from `checks/create`. */
export type CheckRunStatus = 'queued' | 'in_progress' | 'completed';

/** One check run (`checks/create`). */
export interface CheckRunRecord {
  /** Global id (GitHub's `id`). */
  id: number;
  owner: string;
  repo: string;
  name: string;
  headSha: string;
  status: CheckRunStatus;
  /** Set when `status` is `completed`, else null. */
  conclusion: string | null;
  startedAt: string | null;
  completedAt: string | null;
  externalId: string | null;
  detailsUrl: string | null;
  output: { title: string | null; summary: string | null; text: string | null };
  /** Id of the GitHub App that created it (the configured `app`), null when none is configured. */
  appId: number | null;
  createdAt: string;
}

/** One installation access token minted by `apps/create-installation-access-token`. */
export interface TokenRecord {
  /** SHA-256 (hex) of the token: the token itself is not stored. */
  tokenHash: string;
  installationId: number;
  /** Account the installation is on (`*`: any account); the installation decides what the token covers. */
  owner: string;
  /** Full names (`owner/repo`) the token is limited to, or null for all repositories of the installation. */
  repos: string[] | null;
  /** Granted permissions (`app-permissions`), e.g. `{ contents: 'write', pull_requests: 'write' }`. */
  permissions: Record<string, string>;
  /** ISO expiry (`expires_at`); the token is refused from then on. */
  expiresAt: string;
}

interface RepoState {
  nextNumber: number;
  pulls: PullRecord[];
  comments: CommentRecord[];
  reviews: ReviewRecord[];
  reviewComments: ReviewCommentRecord[];
  checkRuns: CheckRunRecord[];
  /** Branch → SHA last seen by the server (the `before` of the next `push` webhook of that branch). */
  branches: Record<string, string>;
}

interface StateFile {
  version: 1;
  nextPullId: number;
  nextCommentId: number;
  nextReviewId: number;
  nextReviewCommentId: number;
  nextCheckRunId: number;
  tokens: TokenRecord[];
  repos: Record<string, RepoState>;
}

/** Current time as GitHub formats timestamps: ISO 8601 UTC, whole seconds (`2024-05-01T12:00:00Z`). */
export function githubNow(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * In-memory state of github-local (pull requests, comments, reviews, check runs and last seen
 * branch SHAs per repository; minted installation tokens), written to
 * `<reposRoot>/.github-local/state.json` after every change (write to a temporary file, then
 * rename, so a crash never leaves half a file) and read back when a server starts.
 * Writes are synchronous, so a handler's check-then-insert cannot interleave with another's.
 */
export class StateStore {
  /** Absolute path of the JSON state file. */
  readonly file: string;
  private state: StateFile;

  /**
   * Loads `<reposRoot>/.github-local/state.json` if present, else starts empty.
   * @throws Error when the file exists but is not a state file this version wrote.
   */
  constructor(reposRoot: string) {
    this.file = join(reposRoot, '.github-local', 'state.json');
    this.state = emptyState();
    let text: string | undefined;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== undefined) {
      const parsed = JSON.parse(text) as Partial<StateFile>;
      if (parsed.version !== 1 || typeof parsed.repos !== 'object' || parsed.repos === null) {
        throw new Error(`github-local: ${this.file} is not a version 1 state file`);
      }
      this.state = withDefaults(parsed as StateFile);
    }
  }

  private repoState(owner: string, repo: string): RepoState {
    const key = `${owner}/${repo}`;
    let entry = this.state.repos[key];
    if (!entry) {
      entry = { nextNumber: 1, pulls: [], comments: [], reviews: [], reviewComments: [], checkRuns: [], branches: {} };
      this.state.repos[key] = entry;
    }
    return entry;
  }

  /** Writes the whole state to disk (tmp file + rename). */
  save(): void {
    mkdirSync(join(this.file, '..'), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.state, null, 2)}\n`);
    renameSync(tmp, this.file);
  }

  /** The live pull request records of a repository, oldest first (mutate, then call {@link save}). */
  pulls(owner: string, repo: string): PullRecord[] {
    return this.state.repos[`${owner}/${repo}`]?.pulls ?? [];
  }

  /** The live pull request `number` of a repository, or undefined. */
  pull(owner: string, repo: string, number: number): PullRecord | undefined {
    return this.pulls(owner, repo).find((p) => p.number === number);
  }

  /** Adds a pull request, assigning `id` and the next `number` of the repository, and saves. */
  addPull(fields: Omit<PullRecord, 'id' | 'number'>): PullRecord {
    const entry = this.repoState(fields.owner, fields.repo);
    const record: PullRecord = { ...fields, id: this.state.nextPullId++, number: entry.nextNumber++ };
    entry.pulls.push(record);
    this.save();
    return record;
  }

  /** The live comments on issue/PR `issueNumber` of a repository, oldest first. */
  comments(owner: string, repo: string, issueNumber: number): CommentRecord[] {
    return (this.state.repos[`${owner}/${repo}`]?.comments ?? []).filter((c) => c.issueNumber === issueNumber);
  }

  /** Adds a comment, assigning its `id`, and saves. */
  addComment(fields: Omit<CommentRecord, 'id'>): CommentRecord {
    const entry = this.repoState(fields.owner, fields.repo);
    const record: CommentRecord = { ...fields, id: this.state.nextCommentId++ };
    entry.comments.push(record);
    this.save();
    return record;
  }

  /** The live reviews of pull request `pullNumber` of a repository, oldest first. */
  reviews(owner: string, repo: string, pullNumber: number): ReviewRecord[] {
    return (this.state.repos[`${owner}/${repo}`]?.reviews ?? []).filter((r) => r.pullNumber === pullNumber);
  }

  /** The live review comments of pull request `pullNumber` of a repository, oldest first. */
  reviewComments(owner: string, repo: string, pullNumber: number): ReviewCommentRecord[] {
    return (this.state.repos[`${owner}/${repo}`]?.reviewComments ?? []).filter((c) => c.pullNumber === pullNumber);
  }

  /**
   * Adds a review and its comments atomically, assigning ids (each comment's `reviewId` is set
   * to the new review's), and saves.
   */
  addReview(
    fields: Omit<ReviewRecord, 'id'>,
    comments: Array<Omit<ReviewCommentRecord, 'id' | 'reviewId'>>,
  ): { review: ReviewRecord; comments: ReviewCommentRecord[] } {
    const entry = this.repoState(fields.owner, fields.repo);
    const review: ReviewRecord = { ...fields, id: this.state.nextReviewId++ };
    entry.reviews.push(review);
    const added = comments.map((c) => ({ ...c, id: this.state.nextReviewCommentId++, reviewId: review.id }));
    entry.reviewComments.push(...added);
    this.save();
    return { review, comments: added };
  }

  /** The live check runs of a repository, oldest first. */
  checkRuns(owner: string, repo: string): CheckRunRecord[] {
    return this.state.repos[`${owner}/${repo}`]?.checkRuns ?? [];
  }

  /** Adds a check run, assigning its `id`, and saves. */
  addCheckRun(fields: Omit<CheckRunRecord, 'id'>): CheckRunRecord {
    const entry = this.repoState(fields.owner, fields.repo);
    const record: CheckRunRecord = { ...fields, id: this.state.nextCheckRunId++ };
    entry.checkRuns.push(record);
    this.save();
    return record;
  }

  /** Branch → SHA last seen for a repository (live; change with {@link setBranch}). */
  branches(owner: string, repo: string): Readonly<Record<string, string>> {
    return this.state.repos[`${owner}/${repo}`]?.branches ?? {};
  }

  /** Records the SHA of a branch (undefined: the branch is gone); saves when it changed. */
  setBranch(owner: string, repo: string, branch: string, sha: string | undefined): void {
    const branches = this.repoState(owner, repo).branches;
    if (branches[branch] === sha) return;
    if (sha === undefined) delete branches[branch];
    else branches[branch] = sha;
    this.save();
  }

  /** Stores a minted installation token (dropping expired ones) and saves. */
  addToken(record: TokenRecord): void {
    const now = Date.now();
    this.state.tokens = this.state.tokens.filter((t) => Date.parse(t.expiresAt) > now);
    this.state.tokens.push(record);
    this.save();
  }

  /** The token record with SHA-256 `tokenHash`, expired or not, or undefined. */
  token(tokenHash: string): TokenRecord | undefined {
    return this.state.tokens.find((t) => t.tokenHash === tokenHash);
  }
}

function emptyState(): StateFile {
  return {
    version: 1,
    nextPullId: 1,
    nextCommentId: 1,
    nextReviewId: 1,
    nextReviewCommentId: 1,
    nextCheckRunId: 1,
    tokens: [],
    repos: {},
  };
}

/**
 * Fills in what state files of earlier github-local versions (same `version: 1`) lack:
 * counters, `tokens`, per-repo `reviews`/`reviewComments`/`checkRuns`/`branches`, and the
 * merge fields of pull requests (null: not merged).
 */
function withDefaults(state: StateFile): StateFile {
  const filled: StateFile = { ...emptyState(), ...state };
  for (const entry of Object.values(filled.repos)) {
    entry.reviews ??= [];
    entry.reviewComments ??= [];
    entry.checkRuns ??= [];
    entry.branches ??= {};
    for (const pull of entry.pulls) {
      pull.mergedAt ??= null;
      pull.mergeCommitSha ??= null;
      pull.mergedBy ??= null;
    }
  }
  return filled;
}
