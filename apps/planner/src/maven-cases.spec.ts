import { readFileSync } from 'node:fs';
import { loadOsvDirectory, type AdvisorySource } from '@remediation/advisories';
import { fromMavenMetadata, mavenMetadataPath, mavenVersioning, proveMavenRemediated, type RegistrySource } from '@remediation/ecosystems';
import { parseCycloneDx, type ParsedScan } from '@remediation/sbom';
import { fixturePath } from '@remediation/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { computePlan } from './plan.js';

interface CaseFile {
  vulnerable: { package: string; version: string; version_source: string; advisory: string; fixed: string; major_bump: boolean }[];
}

/** test/fixtures/registry/maven read directly (tools/maven-local serves the same files to the services). */
const repository: RegistrySource = {
  label: 'test/fixtures/registry/maven',
  releases: async (name) => ({ name, ...fromMavenMetadata(name, readFileSync(fixturePath('registry/maven', mavenMetadataPath(name)), 'utf8'), 'fixture'), source: 'test/fixtures/registry/maven' }),
};

/**
 * java-goof's scan (test/fixtures/scans/java-goof.cdx.json, made from its poms by
 * scripts/fixtures/maven-scan.ts), plus what a resolver adds below spring-context 3.2.6.RELEASE:
 * spring-core and spring-expression at the same version (case.json: "transitive via
 * spring-context"), as `mvn dependency:tree` reports them.
 */
function javaGoofScan(): ParsedScan {
  const doc = JSON.parse(readFileSync(fixturePath('scans/java-goof.cdx.json'), 'utf8')) as {
    components: Array<Record<string, unknown>>;
    dependencies: Array<{ ref: string; dependsOn: string[] }>;
  };
  const context = 'pkg:maven/org.springframework/spring-context@3.2.6.RELEASE';
  const transitive = ['spring-core', 'spring-expression'].map((a) => `pkg:maven/org.springframework/${a}@3.2.6.RELEASE`);
  for (const purl of transitive) doc.components.push({ type: 'library', 'bom-ref': purl, name: `org.springframework:${purl.split('/')[2]!.split('@')[0]}`, version: '3.2.6.RELEASE', purl });
  doc.dependencies.push({ ref: context, dependsOn: transitive });
  return parseCycloneDx(doc);
}

let advisories: AdvisorySource;
beforeAll(async () => {
  // The 12 GitHub-reviewed Maven advisories of the case (test/fixtures/PROVENANCE.md).
  advisories = await loadOsvDirectory(fixturePath('osv/Maven'), { ecosystem: 'Maven' });
});

describe('Maven case java-goof: plan against the GHSA Maven advisories and the repository fixture', () => {
  it('names case.json’s targets and fixed versions; spring-core and spring-expression are reported as transitive', async () => {
    const caseFile = JSON.parse(readFileSync(fixturePath('manifests/java-goof/case.json'), 'utf8')) as CaseFile;
    const plan = await computePlan(javaGoofScan(), { advisories, registries: new Map([['maven', repository]]) });
    expect(plan.warnings).toEqual([]);

    const key = (n: string, v: string): string => `${n}@${v}`;
    const direct = caseFile.vulnerable.filter((v) => !v.version_source.startsWith('transitive'));
    const expected = new Map<string, CaseFile['vulnerable']>();
    for (const v of direct) expected.set(key(v.package, v.version), [...(expected.get(key(v.package, v.version)) ?? []), v]);
    // One target per installed version (log4j-core at 2.7, 2.14.1 and 2.15.0 in three modules).
    expect(plan.targets.map((t) => key(t.name, t.currentVersion)).sort()).toEqual([...expected.keys()].sort());

    const newest = (vs: string[]): string => [...vs].sort(mavenVersioning.compare).at(-1)!;
    for (const target of plan.targets) {
      expect(target).toMatchObject({ ecosystem: 'maven', status: 'planned', manifestPath: 'pom.xml' });
      const pairs = expected.get(key(target.name, target.currentVersion))!;
      for (const pair of pairs) {
        const advisory = target.advisories.find((a) => a.id === pair.advisory);
        expect(advisory, `${target.name}@${target.currentVersion} ${pair.advisory}`).toBeDefined();
        expect(advisory!.fixedVersions).toContain(pair.fixed);
        // The ranges are comparator sets the patcher's proof reads, and they hold the installed version.
        expect(proveMavenRemediated(target.currentVersion, 'maven', advisory!.affectedRanges).remediated, `${target.name}@${target.currentVersion} ${pair.advisory}`).toBe(false);
      }
      // Minimal: the lowest version clearing every advisory = the newest of case.json's per-advisory
      // fixed versions (log4j-core 2.7 → 2.12.4, 2.14.1 and 2.15.0 → 2.17.1, jackson-databind
      // 2.6.5 → 2.9.9.1, struts2-core 2.3.20 → 2.3.32); none is a major jump.
      expect(target.tiers.minimal, `${target.name}@${target.currentVersion}`).toMatchObject({ version: newest(pairs.map((p) => p.fixed)), breakingChangeRisk: 'low' });
      expect(target.tiers.minimal!.jump === 'major').toBe(pairs.some((p) => p.major_bump));
      // Moderate stays on the first numeric component (2.x); 2.0-beta7 is never proposed.
      expect(mavenVersioning.sameLine(target.currentVersion, target.tiers.moderate!.version)).toBe(true);
      for (const tier of Object.values(target.tiers)) expect(mavenVersioning.isStable(tier!.version)).toBe(true);
    }
    expect(plan.targets.find((t) => t.name === 'org.apache.struts:struts2-core')!.tiers.moderate!.version).toBe('2.5.10.1');

    // spring-core and spring-expression come in through spring-context: reported, not planned (no pom declares them).
    const transitive = new Map(plan.transitive.map((t) => [t.name, t.advisories]));
    for (const pair of caseFile.vulnerable.filter((v) => v.version_source.startsWith('transitive'))) {
      expect(transitive.get(pair.package), pair.package).toContain(pair.advisory);
    }
  });
});
