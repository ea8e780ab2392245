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
  /** Login of the author (the server's actor). */
  user: string;
  maintainerCanModify: boolean;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
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
  /** Login of the author (the server's actor). */
  user: string;
  createdAt: string;
  updatedAt: string;
}

interface RepoState {
  nextNumber: number;
  pulls: PullRecord[];
  comments: CommentRecord[];
}

interface StateFile {
  version: 1;
  nextPullId: number;
  nextCommentId: number;
  repos: Record<string, RepoState>;
}

/** Current time as GitHub formats timestamps: ISO 8601 UTC, whole seconds (`2024-05-01T12:00:00Z`). */
export function githubNow(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * In-memory state of github-local (pull requests and comments per repository), written to
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
    this.state = { version: 1, nextPullId: 1, nextCommentId: 1, repos: {} };
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
      this.state = parsed as StateFile;
    }
  }

  private repoState(owner: string, repo: string): RepoState {
    const key = `${owner}/${repo}`;
    let entry = this.state.repos[key];
    if (!entry) {
      entry = { nextNumber: 1, pulls: [], comments: [] };
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
}
