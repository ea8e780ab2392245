import { type Codebase, providerRepository } from '@remediation/contracts';
import { InvalidInputError } from '@remediation/errors';
import type { Tenant } from '@remediation/persistence';

/**
 * The host of a repository location, lower-cased: of a URL (`https://host/…`, `ssh://user@host/…`)
 * or an scp-style location (`user@host:path`); null for a local path (and `file://`), which has none.
 */
export function repositoryHost(repository: string): string | null {
  const scp = /^[^@/\s]+@([^:/\s]+):(?!\/\/)/.exec(repository);
  if (scp) return scp[1]!.toLowerCase();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(repository)) {
    try {
      return new URL(repository).hostname.toLowerCase() || null;
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * The tenant's repository rule (issue 11: "a tenant's configuration says which repository hosts
 * and owners it may use"): with `allowedHosts`, the repository's host must be one of them (a local
 * path has no host and is refused); with `allowedOwners`, both the owner in the repository location
 * and the owner of the pull-request repository must be among them. Hosts and owners compare
 * case-insensitively (DNS and GitHub logins are). Empty lists allow any.
 * @throws InvalidInputError `REPOSITORY_NOT_ALLOWED` (400) naming the rule and the host or owner, never the URL.
 */
export function assertRepositoryAllowed(tenant: Tenant, codebase: Codebase): void {
  if (tenant.allowedHosts.length > 0) {
    const host = repositoryHost(codebase.repository);
    const allowed = tenant.allowedHosts.map((h) => h.toLowerCase());
    if (!host || !allowed.includes(host)) {
      throw new InvalidInputError(
        'REPOSITORY_NOT_ALLOWED',
        `tenant ${tenant.id} may use repositories on ${tenant.allowedHosts.join(', ')} only; codebase.repository ${host ? `is on ${host}` : 'names no host (a local path)'}`,
        { details: { rule: 'allowedHosts', allowedHosts: tenant.allowedHosts, host } },
      );
    }
  }
  if (tenant.allowedOwners.length > 0) {
    const allowed = tenant.allowedOwners.map((o) => o.toLowerCase());
    const owners = [
      { field: 'codebase.repository', owner: providerRepository({ repository: codebase.repository })?.owner ?? null },
      { field: 'codebase.pullRequestRepository', owner: providerRepository(codebase)?.owner ?? null },
    ];
    for (const { field, owner } of owners) {
      if (!owner || !allowed.includes(owner.toLowerCase())) {
        throw new InvalidInputError(
          'REPOSITORY_NOT_ALLOWED',
          `tenant ${tenant.id} may use repositories of ${tenant.allowedOwners.join(', ')} only; the owner of ${field} is ${owner ? JSON.stringify(owner) : 'unknown'}`,
          { details: { rule: 'allowedOwners', allowedOwners: tenant.allowedOwners, field, owner } },
        );
      }
    }
  }
}
