/**
 * The cross-service tests' fixtures are complete. The services those tests start plan with
 * test/fixtures/osv/npm and the trimmed registry snapshot test/fixtures/registry/npm (see
 * test/fixtures/PROVENANCE.md); a packument missing from the snapshot would not fail anything
 * there, it would make the planner turn the target into a no-fix target with a warning, a
 * different plan. Here the planner runs in process on every scan those tests submit and must find
 * the versions of every package it looks up. For the Python scans (test/e2e/python.test.ts, PyPI
 * version lists in test/fixtures/registry/pypi, advisories in test/fixtures/osv-pypi-cases) the
 * check is by the data: every package an advisory affects has a version list holding its scanned
 * version and the advisories' fixed versions.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadOsvDirectory, readOsvDirectoryRecords } from '@remediation/advisories';
import { SnapshotDirectorySource, type VersionSource } from '@remediation/registry';
import { parseScan } from '@remediation/sbom';
import { fixturePath, repoRoot } from '@remediation/testing';
import { describe, expect, it } from 'vitest';
import { normalisePythonName } from '@remediation/ecosystems';
import { computePlan } from '../apps/planner/src/plan.js';
import { formatPackument, trimPackument } from '../scripts/fixtures/trim-packuments.js';
import { JWT_APP, nodegoatCodebase } from './support/flows.js';

/** The scans the tests in test/ submit, by what they stand for. */
const SCANS: Record<string, () => unknown> = {
  'express 4.19.2 (scans/express-4.19.2.cdx.json)': () => JSON.parse(readFileSync(fixturePath('scans/express-4.19.2.cdx.json'), 'utf8')),
  'NodeGoat (scan made from manifests/nodegoat)': () => nodegoatCodebase().scan,
  'JWT_APP (test/support/flows.ts)': () => JWT_APP.scan,
  'Trivy JSON (scans/trivy-npm-native.json)': () => JSON.parse(readFileSync(fixturePath('scans/trivy-npm-native.json'), 'utf8')),
  'Grype JSON (scans/grype-npm-cookie.json)': () => JSON.parse(readFileSync(fixturePath('scans/grype-npm-cookie.json'), 'utf8')),
  'OSV-Scanner JSON (scans/osv-scanner-npm-send.json)': () => JSON.parse(readFileSync(fixturePath('scans/osv-scanner-npm-send.json'), 'utf8')),
};

describe('test/fixtures', () => {
  for (const [label, scan] of Object.entries(SCANS)) {
    it(`has a packument for every package the planner looks up for ${label}`, async () => {
      const snapshot = new SnapshotDirectorySource(fixturePath('registry/npm'));
      const missing: string[] = [];
      const versions: VersionSource = {
        listVersions: (name) =>
          snapshot.listVersions(name).catch((error: unknown) => {
            missing.push(`${name}: ${(error as Error).message}`);
            throw error;
          }),
      };
      const advisories = await loadOsvDirectory(fixturePath('osv/npm'), { ecosystem: 'npm' });
      const plan = await computePlan(parseScan(scan()), { advisories, versions, registryLabel: 'test/fixtures/registry/npm' });
      expect(missing, 'add them with scripts/fixtures/trim-packuments.ts (test/fixtures/PROVENANCE.md)').toEqual([]);
      expect(plan.targets.length).toBeGreaterThan(0);
      expect(plan.noFixTargets).toEqual([]);
    });
  }

  // The Python scans (test/e2e/python.test.ts): the planner looks up the packages an advisory
  // names; each needs a version list in registry/pypi holding the scanned version and every fixed
  // version of its advisories, or the plan changes (a no-fix target).
  for (const scanFile of ['scans/pygoat.cdx.json', 'scans/poetry-inventory.cdx.json']) {
    it(`has a PyPI version list for every package with an advisory in ${scanFile}`, async () => {
      const advisories = (await readOsvDirectoryRecords(fixturePath('osv-pypi-cases'))).filter((a) => !a.withdrawn);
      const scan = parseScan(JSON.parse(readFileSync(fixturePath(scanFile), 'utf8')));
      const problems: string[] = [];
      let looked = 0;
      for (const c of scan.components.filter((x) => x.ecosystem === 'pypi')) {
        const name = normalisePythonName(c.name);
        const affecting = advisories.filter((a) => (a.affected ?? []).some((x) => normalisePythonName(x.package.name) === name && (x.versions ?? []).includes(c.version!)));
        if (affecting.length === 0) continue;
        looked++;
        let versions: string[];
        try {
          versions = (JSON.parse(readFileSync(fixturePath('registry/pypi', `${name}.json`), 'utf8')) as { versions: Array<string | { version: string }> }).versions.map((v) =>
            typeof v === 'string' ? v : v.version,
          );
        } catch (error) {
          problems.push(`${name}: no registry/pypi/${name}.json (${(error as Error).message})`);
          continue;
        }
        const fixed = affecting.flatMap((a) => (a.affected ?? []).filter((x) => normalisePythonName(x.package.name) === name).flatMap((x) => (x.ranges ?? []).flatMap((r) => (r.type === 'ECOSYSTEM' ? r.events : []).flatMap((e) => ('fixed' in e ? [e.fixed] : [])))));
        for (const v of [c.version!, ...fixed]) if (!versions.includes(v)) problems.push(`${name}: registry/pypi/${name}.json lacks ${v}`);
      }
      expect(problems, 'see test/fixtures/PROVENANCE.md "registry/pypi"').toEqual([]);
      expect(looked).toBeGreaterThan(0);
    });
  }

  it('holds registry snapshots trimmed the way scripts/fixtures/trim-packuments.ts writes them (here and in the unit specs)', () => {
    const snapshots = ['test/fixtures/registry/npm', 'libs/registry/src/__fixtures__/registry/npm', 'apps/planner/src/__fixtures__/registry/npm'];
    for (const dir of snapshots.map((d) => join(repoRoot, d))) {
      const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
      expect(files.length, dir).toBeGreaterThan(0);
      for (const file of files) {
        const text = readFileSync(join(dir, file), 'utf8');
        const document = JSON.parse(text) as { name: string; versions: Record<string, object> };
        // Snapshots that keep `dependencies` (trim-packuments --dependencies) are checked with them.
        const keepDependencies = Object.values(document.versions).some((v) => 'dependencies' in v);
        expect(text, `${dir}/${file}`).toBe(formatPackument(trimPackument(document.name, document, file, keepDependencies)));
      }
    }
  });
});
