/**
 * github-local: a local GitHub-compatible REST server over bare git repositories, validated
 * against GitHub's OpenAPI description. Serves repositories and branches, pull requests (create,
 * list, get, update, commits, merge), issue comments, reviews and review comments, check runs,
 * and GitHub App installation tokens; sends GitHub-shaped, signed webhooks.
 * This is the package's only public entry.
 *
 * - `startGithubLocal({ reposRoot, app?, webhook?, actor?, ... })` starts a server.
 * - `app: { appId, publicKeyPem, installations: [{ id, owner, repos? }], slug?, tokenTtlSeconds? }`:
 *   repository endpoints then take only installation tokens minted with the app's JWT
 *   (`@octokit/auth-app` works as against api.github.com).
 * - `webhook: { url, secret }`: events are POSTed to `url` as GitHub does; `notifyPush()`
 *   announces pushes to the bare repos, `deliveries()`/`redeliver()`/`webhooksSettled()` serve tests.
 * - Header `x-github-local-user: <login>` makes a request act as another user (e.g. a reviewer).
 */
export { startGithubLocal, USER_HEADER } from './server.js';
export type {
  CheckRunRecord,
  CommentRecord,
  GithubAppOptions,
  GithubLocal,
  GithubLocalOptions,
  PullRecord,
  ReviewCommentRecord,
  ReviewRecord,
  WebhookDelivery,
  WebhookOptions,
} from './server.js';
