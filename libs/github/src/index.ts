/**
 * `@remediation/github`: GitHub access behind the pull-request provider seam. Octokit with the
 * retry and throttling plugins, GitHub App installation tokens minted per operation (or a token),
 * webhook signature verification. This file is the library's only public entry.
 */
export {
  GithubEnv,
  GithubOctokit,
  createGithubClient,
  githubAuthFromEnv,
  type GithubAuth,
  type GithubClient,
  type GithubClientOptions,
} from './client.js';
export { verifyWebhook, type VerifiedWebhook } from './webhooks.js';
export { PERMANENT_GITHUB_STATUSES, githubRequestError, isRetryableGithubError } from './errors.js';
