import { readFileSync } from 'node:fs';
import { loadOsvDirectory, type AdvisorySource } from '@remediation/advisories';
import { escapeModulePath, fromVersionList, goVersioning, isPseudoVersion, proveGoRemediated, type RegistrySource } from '@remediation/ecosystems';
import { parseCycloneDx } from '@remediation/sbom';
import { fixturePath } from '@remediation/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { computePlan } from './plan.js';

interface CaseFile {
  vulnerable: { package: string; version: string; version_source: string; advisory: string; fixed: string | null; major_bump: boolean | null }[];
}

/** The module proxy lists of test/fixtures/registry/go, read as tools/go-proxy-local serves them (`<case-encoded module>/@v/list`). */
const goproxy: RegistrySource = {
  label: 'test/fixtures/registry/go',
  releases: async (name) => ({ name, versions: fromVersionList(readFileSync(fixturePath('registry/go', escapeModulePath(name), '@v/list'), 'utf8')), source: 'test/fixtures/registry/go' }),
};

let advisories: AdvisorySource;
beforeAll(async () => {
  // Every Go vulnerability database record naming a module viper v1.6.2 requires (test/fixtures/PROVENANCE.md "osv-go-cases").
  advisories = await loadOsvDirectory(fixturePath('osv-go-cases'), { ecosystem: ['Go'] });
});

const caseFile = JSON.parse(readFileSync(fixturePath('manifests/viper-v1.6.2/case.json'), 'utf8')) as CaseFile;
/** case.json writes `+incompatible` versions without it (`v3.2.0` for go.mod's `v3.2.0+incompatible`). */
const plain = (version: string): string => version.replace(/\+incompatible$/, '');

describe("Go case viper v1.6.2: plan of its go.mod's requirements against the Go vulnerability database and the module proxy lists", () => {
  it('names the vulnerable modules (direct and // indirect) and the fixed versions case.json gives', async () => {
    // The scan scripts/fixtures/go-scan.ts writes from viper's go.mod: every require line a direct dependency.
    const scan = parseCycloneDx(JSON.parse(readFileSync(fixturePath('scans/viper-v1.6.2.cdx.json'), 'utf8')));
    const plan = await computePlan(scan, { advisories, registries: new Map([['golang', goproxy]]) });
    expect(plan.sources).toEqual({ advisories: 'osv', registry: goproxy.label });
    expect(plan.warnings).toEqual([]);

    const byModule = new Map<string, CaseFile['vulnerable']>();
    for (const v of caseFile.vulnerable) byModule.set(`${v.package}@${v.version}`, [...(byModule.get(`${v.package}@${v.version}`) ?? []), v]);
    expect(plan.targets.map((t) => `${t.name}@${plain(t.currentVersion)}`).sort()).toEqual([...byModule.keys()].sort());

    for (const target of plan.targets) {
      // Targets carry the module path (case kept), the golang purl type and go.mod.
      expect(target).toMatchObject({ ecosystem: 'golang', manifestPath: 'go.mod', status: 'planned', purl: `pkg:golang/${target.name}@${target.currentVersion}` });
      const pairs = byModule.get(`${target.name}@${plain(target.currentVersion)}`)!;
      for (const pair of pairs) {
        const advisory = target.advisories.find((a) => a.id === pair.advisory);
        expect(advisory, `${target.name} ${pair.advisory}`).toBeDefined();
        // Fixed versions as the Go vulnerability database writes them (no `v`), as case.json does.
        if (pair.fixed === null) expect(advisory!.fixedVersions).toEqual([]);
        else expect(advisory!.fixedVersions).toContain(pair.fixed);
        // The affected ranges are node-semver ranges on versions without `v`, which the patcher's proof reads.
        expect(proveGoRemediated(target.currentVersion, 'go', advisory!.affectedRanges).remediated, `${target.name} ${pair.advisory}`).toBe(false);
      }
      if (pairs.every((p) => p.fixed === null)) {
        // GO-2020-0017: github.com/dgrijalva/jwt-go is never fixed; the fix is in github.com/dgrijalva/jwt-go/v4, a new module path.
        expect(target.tiers).toEqual({ minimal: null, moderate: null, comprehensive: null });
        expect(target.noFixReason).toMatch(/^new-module-path: /);
        expect(target.noFixReason).toContain(`fixed only in ${target.name}/v4 4.0.0-preview1, a new module path: a major upgrade that needs code changes`);
        continue;
      }
      // Minimal: the lowest published version clearing every advisory = the newest of case.json's per-advisory fixes.
      const newest = pairs.map((p) => p.fixed!).sort(goVersioning.compare).at(-1)!;
      const minimal = target.tiers.minimal!;
      expect(minimal.version, target.name).toBe(`v${newest}`);
      expect(minimal.jump === 'major', target.name).toBe(pairs.some((p) => p.major_bump === true));
      expect(minimal.advisoriesFixed.sort()).toEqual(target.advisories.map((a) => a.id).sort());
      // Never a pre-release or pseudo-version (case.json's pseudo-version fixes of x/net are below the tagged fixes).
      for (const tier of [target.tiers.minimal, target.tiers.moderate, target.tiers.comprehensive]) {
        if (tier) expect(goVersioning.isStable(tier.version) && !isPseudoVersion(tier.version), `${target.name} ${tier.version}`).toBe(true);
      }
      // Moderate stays in the installed major (the module path's line) when a fix exists there; v0 → v1 only as the fallback.
      const moderate = target.tiers.moderate!;
      if (goVersioning.sameLine(target.currentVersion, minimal.version)) expect(goVersioning.sameLine(target.currentVersion, moderate.version)).toBe(true);
      else expect(moderate).toMatchObject({ version: minimal.version, notes: expect.arrayContaining(['no fixed version within the current major line']) });
    }
    const tiers = Object.fromEntries(plan.targets.map((t) => [t.name, [t.tiers.minimal?.version ?? null, t.tiers.moderate?.version ?? null, t.tiers.comprehensive?.version ?? null]]));
    expect(tiers).toEqual({
      'github.com/dgrijalva/jwt-go': [null, null, null],
      'github.com/gogo/protobuf': ['v1.3.2', 'v1.3.2', 'v1.3.2'],
      'github.com/gorilla/websocket': ['v1.4.1', 'v1.4.1', 'v1.4.1'],
      'github.com/prometheus/client_golang': ['v1.11.1', 'v1.11.1', 'v1.11.1'],
      'golang.org/x/net': ['v0.56.0', 'v0.56.0', 'v0.56.0'],
      'google.golang.org/grpc': ['v1.82.1', 'v1.82.1', 'v1.82.1'],
      'gopkg.in/yaml.v2': ['v2.2.8', 'v2.2.8', 'v2.2.8'],
    });
  });

  it('matches module paths exactly: a lower-cased path is another module', async () => {
    const scanOf = (module: string) =>
      parseCycloneDx({
        bomFormat: 'CycloneDX',
        specVersion: '1.5',
        metadata: { component: { type: 'application', name: 'app', version: '1.0.0', 'bom-ref': 'app' } },
        components: [{ type: 'library', name: module, version: 'v1.4.0', purl: `pkg:golang/${module}@v1.4.0`, 'bom-ref': 'm' }],
        dependencies: [{ ref: 'app', dependsOn: ['m'] }],
      });
    expect((await computePlan(scanOf('github.com/gorilla/websocket'), { advisories, registries: new Map([['golang', goproxy]]) })).targets.map((t) => t.advisories.map((a) => a.id))).toEqual([['GO-2020-0019']]);
    expect((await computePlan(scanOf('github.com/Gorilla/websocket'), { advisories, registries: new Map([['golang', goproxy]]) })).targets).toEqual([]);
  });
});
