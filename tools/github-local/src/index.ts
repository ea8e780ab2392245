/**
 * github-local: a local GitHub-compatible REST server (repositories, pull requests, issue
 * comments) over bare git repositories, validated against GitHub's OpenAPI description.
 * This is the package's only public entry.
 */
export { startGithubLocal } from './server.js';
export type { CommentRecord, GithubLocal, GithubLocalOptions, PullRecord } from './server.js';
