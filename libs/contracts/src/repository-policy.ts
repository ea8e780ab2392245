import { fileURLToPath } from 'node:url';

/**
 * Codebase policy: which repository locations the service accepts (issue 11, docs/security.md).
 * One parser ({@link parseRepositoryLocation}) and one validator ({@link checkRepositoryLocation})
 * are the source of truth for the API (refuses before any work starts) and git-gateway (re-checks
 * defensively before it runs git).
 *
 * Accepted forms (git-clone(1) "GIT URLS"): `https://host[:port]/path`, `ssh://[user@]host[:port]/path`,
 * the scp-like `[user@]host:path`, and, only when the operator enables local repositories (for
 * development), `file:///path` and absolute local paths.
 */

/** Operator configuration of the policy. */
export interface RepositoryPolicy {
  /**
   * Host names (lower-case, without port) that remote repositories may live on; exact matches
   * (`github.com`, `gitlab.example.com`). Env `REPOSITORY_HOSTS_ALLOWED`, default `github.com`.
   */
  allowedHosts: readonly string[];
  /** Whether local paths and `file://` URLs are accepted (development only). Env `ALLOW_LOCAL_REPOSITORIES`, default false. */
  allowLocal: boolean;
}

/** Default allow-list when `REPOSITORY_HOSTS_ALLOWED` is not set. */
export const DEFAULT_REPOSITORY_HOSTS: readonly string[] = ['github.com'];

/** A parsed repository location. Strings are as given (not yet normalised); `path` is URL-decoded. */
export type RepositoryLocation =
  | { kind: 'url'; scheme: string; username: string; password: string; host: string; port: string; path: string }
  | { kind: 'scp'; username: string; password: string; host: string; path: string }
  | { kind: 'local'; path: string; fileUrl: boolean };

/**
 * Why a location is refused (the `rule` of the error details):
 * - `unparseable`: not a URL, scp-like location or absolute path;
 * - `scheme`: a scheme other than https/ssh (http, git, ext::, fd::, …; file when local is disabled is `local-disabled`);
 * - `credentials`: a password or (https) a user/token in the URL;
 * - `option-like`: a host or path starting with `-` (git would read it as an option);
 * - `host-not-allowed`: the host is not in the allow-list;
 * - `local-disabled`: a local path or file:// URL while local repositories are disabled.
 */
export type RepositoryRule = 'unparseable' | 'scheme' | 'credentials' | 'option-like' | 'host-not-allowed' | 'local-disabled';

/** A refused location: the rule and a message safe to show (never the credentials of the input). */
export interface RepositoryRefusal {
  rule: RepositoryRule;
  message: string;
}

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;
/** git's `<transport>::<address>` remote-helper syntax (gitremote-helpers(7)), e.g. `ext::sh -c …`. */
const HELPER = /^[a-z][a-z0-9+.-]*::/i;
/** scp-like syntax: no scheme, a colon before the first slash (git-clone(1) "GIT URLS"). */
const SCP = /^(?:([^@/\s]*)@)?([^@/:\s]+):(?!\/\/)(.*)$/;

/**
 * Removes the userinfo of URL-like text (`scheme://user:pw@` → `scheme://***@`, `user:pw@host:` →
 * `***@host:`), for messages and logs.
 */
export function redactRepositoryLocation(location: string): string {
  return location.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1***@').replace(/^[^@/\s:]*:[^@/\s]*@/, '***@');
}

/**
 * Parses a repository location without applying the policy.
 * @returns the parsed location, or a refusal with rule `unparseable` / `scheme`.
 */
export function parseRepositoryLocation(location: string): RepositoryLocation | RepositoryRefusal {
  const shown = JSON.stringify(redactRepositoryLocation(location).slice(0, 300));
  const unparseable = (why: string): RepositoryRefusal => ({ rule: 'unparseable', message: `${shown} ${why}` });
  if (location.length === 0) return unparseable('is empty');
  if (HELPER.test(location)) return { rule: 'scheme', message: `${shown}: git remote helpers (<transport>::<address>) are not accepted; use https:// or ssh://` };
  if (/[\x00-\x20\x7f]/.test(location)) return unparseable('contains whitespace or control characters');
  // A URL parser reads `\` as `/` in https URLs, git and curl do not (`https://github.com\@evil.com/x`
  // is github.com to one and evil.com to the other): refused outright.
  if (location.includes('\\')) return unparseable('contains a backslash');
  const scheme = SCHEME.exec(location);
  if (scheme) {
    const name = scheme[1]!.toLowerCase();
    if (name === 'file') {
      try {
        return { kind: 'local', path: fileURLToPath(location), fileUrl: true };
      } catch {
        return unparseable('is not a valid file:// URL');
      }
    }
    let url: URL;
    try {
      url = new URL(location);
    } catch {
      return unparseable('cannot be parsed as a URL');
    }
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      return unparseable('has a malformed percent-encoding in its path');
    }
    // The host git will connect to is the raw authority's (after its last `@`): it must be the one
    // the URL parser saw, or the location means different hosts to the policy and to git.
    const rawAuthority = location.slice(scheme[0].length).split(/[/?#]/, 1)[0]!;
    const rawHost = rawAuthority.slice(rawAuthority.lastIndexOf('@') + 1).replace(/:\d*$/, '').toLowerCase();
    if (rawHost !== url.hostname.toLowerCase()) return unparseable('names its host ambiguously (a URL parser and git would read different hosts)');
    return { kind: 'url', scheme: name, username: url.username, password: url.password, host: url.hostname.toLowerCase(), port: url.port, path };
  }
  if (location.startsWith('/')) return { kind: 'local', path: location, fileUrl: false };
  const scp = location.startsWith('.') ? null : SCP.exec(location);
  if (scp) {
    const userinfo = scp[1] ?? '';
    const colon = userinfo.indexOf(':');
    return {
      kind: 'scp',
      username: colon < 0 ? userinfo : userinfo.slice(0, colon),
      password: colon < 0 ? '' : userinfo.slice(colon + 1),
      host: scp[2]!.toLowerCase(),
      path: scp[3]!,
    };
  }
  return unparseable('is neither a git URL (https://, ssh://, user@host:path) nor an absolute path');
}

/** Whether a value is a refusal rather than a parsed location. */
export function isRepositoryRefusal(value: RepositoryLocation | RepositoryRefusal): value is RepositoryRefusal {
  return 'rule' in value;
}

/**
 * Applies the codebase policy to a location: only `https://` and `ssh://`/scp-like locations on an
 * allowed host, without credentials (a password, or for https any user: a token given as the user
 * is a credential), with no host or path starting with `-`; local paths and `file://` only when
 * `policy.allowLocal`. Messages never repeat credentials (userinfo is redacted; a refusal for
 * credentials does not show the location at all).
 * @returns the parsed location when accepted, else the refusal (rule and message).
 */
export function checkRepositoryLocation(location: string, policy: RepositoryPolicy): { location: RepositoryLocation } | RepositoryRefusal {
  const parsed = parseRepositoryLocation(location);
  if (isRepositoryRefusal(parsed)) return parsed;
  if (parsed.kind === 'local') {
    if (!policy.allowLocal) {
      return {
        rule: 'local-disabled',
        message: 'local repositories (absolute paths and file:// URLs) are disabled on this server; use an https:// or ssh:// URL (operators enable them for development with ALLOW_LOCAL_REPOSITORIES=true)',
      };
    }
    return { location: parsed };
  }
  if (parsed.password !== '' || (parsed.kind === 'url' && parsed.scheme === 'https' && parsed.username !== '')) {
    return {
      rule: 'credentials',
      message: 'the repository URL embeds credentials (user or password before @): remove them; the service authenticates to the host itself and never stores credentials',
    };
  }
  const shown = JSON.stringify(location.slice(0, 300));
  if (parsed.kind === 'url' && parsed.scheme !== 'https' && parsed.scheme !== 'ssh') {
    return { rule: 'scheme', message: `${shown}: scheme ${parsed.scheme}:// is not accepted; use https:// or ssh:// (or user@host:path)` };
  }
  if (parsed.host.startsWith('-') || parsed.username.startsWith('-')) {
    return { rule: 'option-like', message: `${shown}: a host or user starting with "-" is refused (git would read it as an option)` };
  }
  const path = parsed.path.replace(/^\/+/, '');
  if (path.startsWith('-')) return { rule: 'option-like', message: `${shown}: a path starting with "-" is refused (git would read it as an option)` };
  if (path === '') return { rule: 'unparseable', message: `${shown} has no repository path` };
  if (!policy.allowedHosts.includes(parsed.host)) {
    return {
      rule: 'host-not-allowed',
      message: `${shown}: host ${parsed.host} is not allowed on this server (allowed: ${policy.allowedHosts.join(', ') || 'none'}; REPOSITORY_HOSTS_ALLOWED)`,
    };
  }
  return { location: parsed };
}

/**
 * Reads the policy from the environment: `REPOSITORY_HOSTS_ALLOWED` (comma-separated host names,
 * default {@link DEFAULT_REPOSITORY_HOSTS}; an empty value allows no remote host) and
 * `ALLOW_LOCAL_REPOSITORIES` (`true`/`1` enables local paths and file://; default false).
 * @throws Error naming the variable when `ALLOW_LOCAL_REPOSITORIES` is not a boolean.
 */
export function repositoryPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): RepositoryPolicy {
  const hosts = env['REPOSITORY_HOSTS_ALLOWED'];
  const local = (env['ALLOW_LOCAL_REPOSITORIES'] ?? 'false').trim().toLowerCase();
  if (!['true', 'false', '1', '0', ''].includes(local)) {
    throw new Error(`invalid environment: ALLOW_LOCAL_REPOSITORIES must be true/false/1/0, got ${JSON.stringify(env['ALLOW_LOCAL_REPOSITORIES'])}`);
  }
  return {
    allowedHosts:
      hosts === undefined
        ? DEFAULT_REPOSITORY_HOSTS
        : hosts
            .split(',')
            .map((h) => h.trim().toLowerCase())
            .filter((h) => h.length > 0),
    allowLocal: local === 'true' || local === '1',
  };
}

/** GitHub login rules: alphanumeric and single hyphens, not at either end, at most 39 characters. */
const GITHUB_OWNER = /^(?=.{1,39}$)[A-Za-z0-9](?:-?[A-Za-z0-9])*$/;
/** GitHub repository names: `[A-Za-z0-9._-]`, at most 100 characters, not `.` or `..`. */
const GITHUB_REPO = /^(?!\.{1,2}$)[A-Za-z0-9._-]{1,100}$/;

/**
 * Why `owner`/`repo` are not GitHub names, or null when they are (GitHub's rules for user and
 * organisation logins and repository names, as its sign-up and new-repository forms enforce them).
 */
export function githubRepositoryNameProblem(owner: string, repo: string): string | null {
  if (!GITHUB_OWNER.test(owner)) return 'owner must be 1–39 letters, digits or single hyphens, not starting or ending with a hyphen';
  if (!GITHUB_REPO.test(repo)) return 'repo must be 1–100 of [A-Za-z0-9._-], not "." or ".."';
  return null;
}
