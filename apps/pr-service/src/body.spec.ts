import { describe, expect, it } from 'vitest';
import type { ExecutionTarget, PlannedTarget, PlannerOutput } from '@remediation/contracts';
import { pullRequestBody, pullRequestTitle } from './body.js';

/**
 * The default pull-request body for express 4.19.2's minimal tier (the advisories the planner
 * finds for examples/express-4.19.2/scan.cdx.json in examples/express-4.19.2/advisories), with and
 * without agent code changes.
 */
const tier = { minimal: null, moderate: null, comprehensive: null };
const planned = (name: string, id: string, alias: string, severity: 'high' | 'moderate' | 'low', range: string, fixed: string): PlannedTarget => ({
  purl: `pkg:npm/${name}`,
  ecosystem: 'npm',
  name,
  currentVersion: '0.0.0',
  manifestPath: 'package.json',
  advisories: [{ id, aliases: [alias], severity, url: `https://github.com/advisories/${id}`, affectedRanges: [range], fixedVersions: [fixed] }],
  tiers: tier,
});
const plan = {
  schemaVersion: 1,
  targets: [
    planned('cookie', 'GHSA-pxg6-pf52-xh8x', 'CVE-2024-47764', 'low', '<0.7.0', '0.7.0'),
    planned('body-parser', 'GHSA-qwcr-r2fm-qrc7', 'CVE-2024-45590', 'high', '<1.20.3', '1.20.3'),
    planned('send', 'GHSA-m6fv-jmcg-4jfg', 'CVE-2024-43799', 'moderate', '<0.19.0', '0.19.0'),
  ],
} as unknown as PlannerOutput;
const target = (name: string, from: string, to: string, status: ExecutionTarget['status'], reason: string | null, needsAgent = false): ExecutionTarget => ({
  name,
  manifestPath: 'package.json',
  from,
  to,
  declaredFrom: from,
  declaredTo: status === 'success' ? to : from,
  status,
  reason,
  advisories: [],
  needsAgent,
  proof: null,
});
const base = { remediationId: 'rem_x', executionId: 'rem_x.patch.2', tier: 'minimal', plan };

describe('the default pull request body', () => {
  it('lists advisories by severity with links, the changes, what was left out and lockfile guidance', () => {
    const targets = [
      target('body-parser', '1.20.2', '1.20.3', 'success', null),
      target('cookie', '0.6.0', '0.7.0', 'success', null, true),
      target('send', '0.18.0', '0.19.0', 'failed', 'agent: send 0.19 changes dotfile handling', true),
    ];
    const body = pullRequestBody({ ...base, targets, changedPaths: ['package.json'] });
    expect(pullRequestTitle({ ...base, targets })).toBe('fix(deps): upgrade 2 vulnerable dependencies (minimal)');
    const advisories = body.split('\n').filter((l) => l.startsWith('| [GHSA-'));
    expect(advisories).toEqual([
      '| [GHSA-qwcr-r2fm-qrc7](https://github.com/advisories/GHSA-qwcr-r2fm-qrc7) (CVE-2024-45590) | high | `body-parser` | `<1.20.3` | 1.20.3 |',
      '| [GHSA-pxg6-pf52-xh8x](https://github.com/advisories/GHSA-pxg6-pf52-xh8x) (CVE-2024-47764) | low | `cookie` | `<0.7.0` | 0.7.0 |',
    ]);
    expect(body).toContain('| `cookie` | `package.json` | 0.6.0 | 0.7.0 | `0.6.0` → `0.7.0` |');
    expect(body).toContain('- `send` (failed): agent: send 0.19 changes dotfile handling');
    expect(body).not.toContain('### Code changes by the agent');
    expect(body).toContain('**Major upgrades** (code may need changes; review carefully):\n\n- `cookie` 0.6.0 → 0.7.0');
    expect(body).toContain('1. Regenerate the lockfile: this change edits manifests only and never runs package managers');
    expect(body).toContain('3. Check the release notes of the major upgrades');
  });

  it('names the files the agent changed beyond the manifests, and its notes per target', () => {
    const targets = [
      target('body-parser', '1.20.2', '1.20.3', 'success', null),
      target('cookie', '0.6.0', '0.7.0', 'success', 'agent: cookie options moved to lib/cookie-options.js', true),
    ];
    const agent = { outcome: 'completed', detail: '', model: 'claude-test', turns: 3, toolCalls: 4, inputTokens: 9000, outputTokens: 1000, costUsd: 0.04, resumes: 0 };
    const body = pullRequestBody({ ...base, targets, agent, changedPaths: ['lib/cookie-options.js', 'package.json', 'package-lock.json'] });
    expect(body).toContain('### Code changes by the agent\n\nFiles changed beyond the manifests: `lib/cookie-options.js`.\n\n- `cookie`: cookie options moved to lib/cookie-options.js');
    expect(body).toContain('<sub>claude-test, 3 turns, 10000 tokens.');
    expect(body).not.toContain('**Major upgrades**'); // the agent handled the major jump
    expect(body).toContain('this change edits manifests and code and never runs package managers');

    const noEdits = pullRequestBody({ ...base, targets, agent, changedPaths: ['package.json'] });
    expect(noEdits).toContain('No files beyond the manifests: the agent found no code that needs changing.');
  });
});

describe('the pull-request body and lockfiles (issue 15)', () => {
  const proof = (lockfiles?: string[]) => ({ target: 'x', remediated: true, declared: [], lowestAdmissible: null, reason: '', ...(lockfiles ? { lockfiles } : {}) });
  it('lists the lockfiles updated with the bumps, and the command a lockfile still needs', () => {
    const targets = [
      { ...target('body-parser', '1.20.2', '1.20.3', 'success', 'package-lock.json updated: body-parser 1.20.2 → 1.20.3'), proof: proof(['package-lock.json']) },
      { ...target('cookie', '0.6.0', '0.7.0', 'success', 'lockfile needs `yarn install`: yarn.lock (yarn-v1) is not updated in place yet'), proof: proof() },
    ];
    const body = pullRequestBody({ ...base, targets, changedPaths: ['package.json', 'package-lock.json'] });
    expect(body).toContain(
      [
        '### Lockfiles',
        '',
        '- `package-lock.json` updated with `body-parser` 1.20.3, computed from registry metadata (no package manager ran)',
        '- `cookie`: lockfile needs `yarn install` (yarn.lock (yarn-v1) is not updated in place yet)',
      ].join('\n'),
    );
    // The regeneration step still stands for the target whose lockfile was not updated.
    expect(body).toContain('1. Regenerate the lockfile:');
  });

  it('with every lockfile updated, the guidance asks only to check it', () => {
    const targets = [{ ...target('body-parser', '1.20.2', '1.20.3', 'success', null), proof: proof(['package-lock.json']) }];
    const body = pullRequestBody({ ...base, targets, changedPaths: ['package.json', 'package-lock.json'] });
    expect(body).toContain('1. The lockfiles were updated with the manifests (see "Lockfiles"); `npm ci` / `cargo build --locked` should accept them as they are.');
    expect(body).not.toContain('Regenerate');
    expect(body).not.toContain('Files changed beyond the manifests');
  });
});

describe('the pull-request body of PyPI targets', () => {
  const pyPlan = {
    schemaVersion: 1,
    targets: [
      {
        purl: 'pkg:pypi/django@4.2',
        ecosystem: 'pypi',
        name: 'django',
        currentVersion: '4.2',
        manifestPath: 'requirements.txt',
        advisories: [{ id: 'PYSEC-2024-56', aliases: ['CVE-2024-38875'], severity: 'high', affectedRanges: ['>=4.2,<4.2.14'], fixedVersions: ['4.2.14'] }],
        tiers: tier,
      },
    ],
  } as unknown as PlannerOutput;
  const django: ExecutionTarget = { ...target('django', '4.2', '4.2.14', 'success', null), ecosystem: 'pypi', manifestPath: 'requirements.txt', declaredFrom: '==4.2', declaredTo: '==4.2.14' };
  const input = { remediationId: 'rem_1', executionId: 'rem_1.patch.1', tier: 'minimal', plan: pyPlan };

  it("names the ecosystem's lockfile commands and counts Python manifests as manifests", () => {
    const body = pullRequestBody({ ...input, targets: [django], changedPaths: ['requirements.txt', 'poetry.lock'] });
    expect(body).toContain('| PYSEC-2024-56 (CVE-2024-38875) | high | `django` | `>=4.2,<4.2.14` | 4.2.14 |');
    expect(body).toContain('| `django` | `requirements.txt` | 4.2 | 4.2.14 | `==4.2` → `==4.2.14` |');
    expect(body).toContain(
      '1. Regenerate the lockfiles: this change edits manifests only and never runs package managers, so lockfiles (and pinned hashes) are not updated. pypi: run `poetry lock`, `uv lock` or `pip-compile --generate-hashes` (whichever manages the project\'s lockfile or hashes, if any); commit the updated lockfiles.',
    );
    expect(body).not.toContain('npm install');
    expect(body).not.toContain('Code changes by the agent');
  });

  it('Cargo: names `cargo update -p` per upgraded crate, then `cargo test`; informational advisories show their kind', () => {
    const crate = (name: string, from: string, advisories: unknown[]) => ({ purl: `pkg:cargo/${name}@${from}`, ecosystem: 'cargo', name, currentVersion: from, manifestPath: 'Cargo.toml', advisories, tiers: tier });
    const cargoPlan = {
      schemaVersion: 1,
      targets: [
        crate('openssl', '0.10.11', [
          { id: 'RUSTSEC-2023-0044', aliases: ['GHSA-xcf7-rvmh-g6q4'], severity: 'unknown', affectedRanges: ['<0.10.55'], fixedVersions: ['0.10.55'] },
          { id: 'RUSTSEC-2023-0072', aliases: [], severity: 'unknown', affectedRanges: ['<0.10.60'], fixedVersions: ['0.10.60'], kind: 'unsound' },
        ]),
        crate('tar', '0.4.15', [{ id: 'RUSTSEC-2018-0002', aliases: [], severity: 'unknown', affectedRanges: ['<0.4.16'], fixedVersions: ['0.4.16'] }]),
      ],
    } as unknown as PlannerOutput;
    const shipped = (name: string, from: string, to: string): ExecutionTarget => ({ ...target(name, from, to, 'success', null), ecosystem: 'cargo', manifestPath: 'Cargo.toml', declaredFrom: from, declaredTo: to });
    const body = pullRequestBody({ remediationId: 'rem_c', executionId: 'rem_c.patch.1', tier: 'minimal', plan: cargoPlan, targets: [shipped('tar', '0.4.15', '0.4.45'), shipped('openssl', '0.10.11', '0.10.72')], changedPaths: ['Cargo.toml'] });
    expect(body).toContain('| RUSTSEC-2023-0072 | unknown (unsound) | `openssl` | `<0.10.60` | 0.10.72 |');
    expect(body).toContain('| RUSTSEC-2023-0044 (GHSA-xcf7-rvmh-g6q4) | unknown | `openssl` | `<0.10.55` | 0.10.72 |');
    expect(body).toContain('cargo: run `cargo update -p openssl -p tar`; commit the updated lockfiles.');
    expect(body).toContain('2. Run the test suite (`cargo test`) and exercise the code paths that use the upgraded packages.');
    expect(body).not.toContain('<crate>');
    expect(body).not.toContain('Code changes by the agent');
  });

  it('Maven: no lockfile to regenerate, then `mvn -q verify`; pom.xml counts as a manifest', () => {
    const name = 'org.apache.logging.log4j:log4j-core';
    const mavenPlan = {
      schemaVersion: 1,
      targets: [
        {
          purl: 'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1',
          ecosystem: 'maven',
          name,
          currentVersion: '2.14.1',
          manifestPath: 'log4shell-goof/log4shell-client/pom.xml',
          advisories: [{ id: 'GHSA-jfh8-c2jp-5v3q', aliases: ['CVE-2021-44228'], severity: 'critical', affectedRanges: ['>=2.13.0,<2.15.0'], fixedVersions: ['2.15.0'] }],
          tiers: tier,
        },
      ],
    } as unknown as PlannerOutput;
    const shipped: ExecutionTarget = { ...target(name, '2.14.1', '2.17.1', 'success', null), ecosystem: 'maven', manifestPath: 'log4shell-goof/log4shell-client/pom.xml', declaredFrom: '2.14.1', declaredTo: '2.17.1' };
    const body = pullRequestBody({ remediationId: 'rem_m', executionId: 'rem_m.patch.1', tier: 'minimal', plan: mavenPlan, targets: [shipped], changedPaths: ['log4shell-goof/log4shell-client/pom.xml'] });
    expect(body).toContain('| GHSA-jfh8-c2jp-5v3q (CVE-2021-44228) | critical | `org.apache.logging.log4j:log4j-core` | `>=2.13.0,<2.15.0` | 2.17.1 |');
    expect(body).toContain('1. No lockfile to regenerate: this change edits manifests only; maven has no lockfile, the build resolves the edited versions itself.');
    expect(body).toContain('2. Run the test suite (`mvn -q verify`) and exercise the code paths that use the upgraded packages.');
    expect(body).not.toContain('npm install');
    expect(body).not.toContain('Code changes by the agent');
  });

  it('Go: names `go mod tidy` (go.sum is not regenerated) and `go mod tidy && go test ./...`; go.mod and go.sum are manifests, not code', () => {
    const module = (name: string, from: string, advisories: unknown[]) => ({ purl: `pkg:golang/${name}@${from}`, ecosystem: 'golang', name, currentVersion: from, manifestPath: 'go.mod', advisories, tiers: tier });
    const goPlan = {
      schemaVersion: 1,
      targets: [module('gopkg.in/yaml.v2', 'v2.2.4', [{ id: 'GO-2020-0036', aliases: ['CVE-2019-11254'], severity: 'unknown', affectedRanges: ['<2.2.8'], fixedVersions: ['2.2.8'] }])],
    } as unknown as PlannerOutput;
    const shipped: ExecutionTarget = { ...target('gopkg.in/yaml.v2', 'v2.2.4', 'v2.2.8', 'success', null), ecosystem: 'golang', manifestPath: 'go.mod', declaredFrom: 'v2.2.4', declaredTo: 'v2.2.8' };
    const body = pullRequestBody({ remediationId: 'rem_g', executionId: 'rem_g.patch.1', tier: 'minimal', plan: goPlan, targets: [shipped], changedPaths: ['go.mod', 'go.sum'] });
    expect(body).toContain('| GO-2020-0036 (CVE-2019-11254) | unknown | `gopkg.in/yaml.v2` | `<2.2.8` | v2.2.8 |');
    expect(body).toContain('golang: run `go mod tidy`; commit the updated lockfiles.');
    expect(body).toContain('2. Run the test suite (`go mod tidy && go test ./...`) and exercise the code paths that use the upgraded packages.');
    expect(body).toContain('edits manifests only');
    expect(body).not.toContain('npm install');
  });

  it('a package pinned at several versions: each installed version with its advisories and fixed version', () => {
    const lab = {
      ...pyPlan.targets[0]!,
      purl: 'pkg:pypi/django@3.2.18',
      currentVersion: '3.2.18',
      advisories: [{ id: 'PYSEC-2024-28', aliases: ['CVE-2024-24680'], severity: 'moderate', affectedRanges: ['>=3.2,<3.2.24'], fixedVersions: ['3.2.24'] }],
    };
    const plan = { ...pyPlan, targets: [lab, pyPlan.targets[0]!] } as unknown as PlannerOutput;
    const both: ExecutionTarget = {
      ...django,
      versions: [{ from: '3.2.18', to: '3.2.24' }, { from: '4.2', to: '4.2.14' }],
      proof: { target: 'django', remediated: true, declared: [], manifests: ['lab/requirements.txt', 'requirements.txt'], lowestAdmissible: '4.2.14', reason: '' },
    };
    const body = pullRequestBody({ ...input, plan, targets: [both] });
    expect(body).toContain('| PYSEC-2024-56 (CVE-2024-38875) | high | `django` | `>=4.2,<4.2.14` | 4.2.14 |');
    expect(body).toContain('| PYSEC-2024-28 (CVE-2024-24680) | moderate | `django` | `>=3.2,<3.2.24` | 3.2.24 |');
    expect(body).toContain('| `django` | `lab/requirements.txt`, `requirements.txt` | 3.2.18 | 3.2.24 | |');
    expect(body).toContain('| `django` | `lab/requirements.txt`, `requirements.txt` | 4.2 | 4.2.14 | |');
  });

  it('names both when npm and PyPI targets ship together', () => {
    const body = pullRequestBody({ ...input, targets: [django, target('cookie', '0.6.0', '0.7.0', 'success', null)], changedPaths: ['requirements.txt', 'package.json', 'app/views.py'] });
    expect(body).toContain('edits manifests and code');
    expect(body).toContain('npm: run `npm install` (or your package manager\'s equivalent); pypi: run `poetry lock`');
    expect(body).toContain('Files changed beyond the manifests: `app/views.py`.');
  });
});

describe('transitive fixes (issue 15, docs/decisions/0016)', () => {
  const transitivePlan = {
    schemaVersion: 1,
    targets: [],
    transitive: [{ purl: 'pkg:npm/cookie@0.4.1', name: 'cookie', version: '0.4.1', advisories: ['GHSA-pxg6-pf52-xh8x'], via: ['express-session'], affectedRanges: ['<0.7.0'] }],
  } as unknown as PlannerOutput;
  const fixTarget = (fix: ExecutionTarget['fix'], declared: [string, string] | null): ExecutionTarget => ({
    ...target('cookie', fix!.from, fix!.to, 'success', null),
    declaredFrom: declared?.[0] ?? null,
    declaredTo: declared?.[1] ?? null,
    advisories: ['GHSA-pxg6-pf52-xh8x'],
    fix,
    proof: { target: 'cookie', remediated: true, declared: [], lockfiles: ['package-lock.json'], locked: ['package-lock.json 0.7.2: 0.7.2 is outside <0.7.0'], lowestAdmissible: null, reason: 'ok' },
  });
  const option = { jump: 'minor' as const, breakingChangeRisk: 'low' as const, notes: [] };

  it('a parent bump: the title, the advisory row, the "Transitive fixes" line and the lockfile line name the option with from → to', () => {
    const t = fixTarget({ ...option, kind: 'parent_bump', name: 'express-session', from: '1.17.2', to: '1.18.1', path: ['express-session', 'cookie'] }, ['^1.17.2', '^1.18.1']);
    const input = { remediationId: 'rem_1', executionId: 'rem_1.patch.2', tier: 'minimal', targets: [t], plan: transitivePlan };
    expect(pullRequestTitle(input)).toBe('fix(deps): parent bump express-session 1.17.2 → 1.18.1 (transitive cookie)');
    const body = pullRequestBody(input);
    expect(body).toContain('| GHSA-pxg6-pf52-xh8x | see advisory | `cookie` (transitive) | `<0.7.0` | parent bump express-session 1.17.2 → 1.18.1 |');
    expect(body).toContain('- `cookie` 0.4.1 via express-session: **parent bump express-session 1.17.2 → 1.18.1** (`package.json` `express-session` `^1.17.2` → `^1.18.1`; now locked: package-lock.json 0.7.2)');
    expect(body).toContain('- `package-lock.json` updated with the parent bump express-session 1.17.2 → 1.18.1 (transitive `cookie`), computed from registry metadata');
    // Not a direct bump row in "Changes".
    expect(body).not.toContain('| `cookie` | `package.json` | 1.17.2 | 1.18.1 |');
  });

  it('an override names the overrides entry', () => {
    const t = fixTarget({ ...option, kind: 'override', name: 'cookie', from: '0.4.1', to: '0.7.0', path: [] }, [null as unknown as string, '0.7.0']);
    const body = pullRequestBody({ remediationId: 'rem_1', executionId: 'rem_1.patch.2', tier: 'minimal', targets: [t], plan: transitivePlan });
    expect(body).toContain('**override cookie → 0.7.0** (`package.json` `"overrides": { "cookie": "0.7.0" }`; now locked: package-lock.json 0.7.2)');
  });
});
