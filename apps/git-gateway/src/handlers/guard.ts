import { InvalidInputError } from '@remediation/errors';
import type { UpperChange } from '../adapters/workspace/index.js';

/** Paths a patch may never touch, whatever its targets: CI config, VCS dirs, secrets. */
const ALWAYS_FORBIDDEN: RegExp[] = [
  /(^|\/)\.git(\/|$)/,
  /^\.github\//,
  /^\.gitlab-ci\.yml$/,
  /^\.circleci\//,
  /(^|\/)\.env(\..*)?$/,
  /(^|\/)(id_rsa|id_ed25519)(\.pub)?$/,
  /\.(pem|key|p12|pfx)$/,
];

/**
 * The extraneous-change guard (docs/mission.md "No extraneous changes"): a patch may touch only the
 * paths its targets declare (the manifests of targets that succeeded, plus code files the
 * agent changed under an allow-list), never CI config, `.github/`, secrets or the VCS dir.
 * @param allowed repository-relative paths the targets declare.
 * @throws InvalidInputError `PATCH_EXTRANEOUS_CHANGES` listing every offending path.
 */
export function assertNoExtraneousChanges(changes: readonly UpperChange[], forbidden: readonly string[], allowed: ReadonlySet<string>): void {
  const offending = new Set<string>(forbidden);
  for (const c of changes) {
    if (ALWAYS_FORBIDDEN.some((re) => re.test(c.path)) || !allowed.has(c.path)) offending.add(c.path);
  }
  if (offending.size > 0) {
    const list = [...offending].sort();
    throw new InvalidInputError(
      'PATCH_EXTRANEOUS_CHANGES',
      `the patch touches paths its targets do not allow: ${list.join(', ')} (allowed: ${[...allowed].sort().join(', ') || 'none'})`,
      { details: { offending: list, allowed: [...allowed].sort() } },
    );
  }
}
