import { describe, expect, it } from 'vitest';
import { isRemediationError } from '@remediation/errors';
import { assertNoExtraneousChanges } from './guard.js';

const w = (path: string) => ({ path, kind: 'write' as const, mode: '100644' as const });
const d = (path: string) => ({ path, kind: 'delete' as const });

function offending(fn: () => void): string[] {
  try {
    fn();
  } catch (err) {
    if (isRemediationError(err) && err.code === 'PATCH_EXTRANEOUS_CHANGES') return (err.details as { offending: string[] }).offending;
    throw err;
  }
  return [];
}

describe('extraneous-change guard', () => {
  it('accepts changes to the manifests the targets declare', () => {
    expect(offending(() => assertNoExtraneousChanges([w('package.json'), w('packages/a/package.json')], [], new Set(['package.json', 'packages/a/package.json'])))).toEqual([]);
  });

  it('refuses a path no target declares, listing every offending path', () => {
    const err = (() => {
      try {
        assertNoExtraneousChanges([w('package.json'), w('src/index.js'), d('README.md')], [], new Set(['package.json']));
      } catch (e) {
        return e as Error;
      }
      return null;
    })();
    expect(err).not.toBeNull();
    expect(err!.message).toContain('README.md, src/index.js');
    expect(err!.message).toContain('allowed: package.json');
  });

  it('refuses CI config, .github/, secrets and the VCS dir even when declared', () => {
    const always = ['.github/workflows/ci.yml', '.gitlab-ci.yml', '.circleci/config.yml', '.env', 'config/.env.production', 'deploy/id_rsa', 'certs/server.key', 'certs/server.pem'];
    expect(offending(() => assertNoExtraneousChanges(always.map(w), [], new Set(always))).sort()).toEqual([...always].sort());
  });

  it('refuses paths the upper-dir reader flagged as forbidden (.git)', () => {
    expect(offending(() => assertNoExtraneousChanges([w('package.json')], ['.git', 'sub/.git/config'], new Set(['package.json'])))).toEqual(['.git', 'sub/.git/config']);
  });

  it('is not retryable: the same patch would be refused again', () => {
    try {
      assertNoExtraneousChanges([w('x')], [], new Set());
    } catch (err) {
      expect(isRemediationError(err) && err.retryable).toBe(false);
    }
  });
});
