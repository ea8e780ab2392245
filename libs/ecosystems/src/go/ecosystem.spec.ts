import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '@remediation/testing';
import { goEcosystem } from './ecosystem.js';
import { fromVersionList } from './goproxy-source.js';

interface Osv {
  id: string;
  affected: Array<{ package: { name: string; ecosystem: string }; ranges?: Array<{ type: string; events: Array<Record<string, string>> }>; versions?: string[] }>;
}
interface CasePair {
  package: string;
  version: string;
  advisory: string;
  fixed: string | null;
  major_bump: boolean | null;
}

const here = (path: string): string => readFileSync(new URL(path, import.meta.url), 'utf8');
const advisory = (id: string): Osv => JSON.parse(here(`./__fixtures__/osv/${id}.json`)) as Osv;
const viper = here('./__fixtures__/viper-v1.6.2/go.mod');
const pairs = (JSON.parse(here('./__fixtures__/viper-v1.6.2/case.json')) as { vulnerable: CasePair[] }).vulnerable;
const v = goEcosystem.versioning;
const manager = goEcosystem.managers[0]!;

/** Affected ranges of `module` in a Go OSV record, in node-semver syntax without `v` (introduced/fixed pairs; `introduced: "0"` has no lower bound). */
function ranges(osv: Osv, module: string): string[] {
  const out: string[] = [];
  for (const a of osv.affected.filter((x) => x.package.name === module)) {
    for (const r of a.ranges?.filter((x) => x.type === 'SEMVER') ?? []) {
      let lower: string | undefined;
      for (const e of r.events) {
        if (e['introduced'] !== undefined) lower = e['introduced'] === '0' ? '' : `>=${e['introduced']}`;
        if (e['fixed'] !== undefined) {
          out.push(`${lower ?? ''} <${e['fixed']}`.trim());
          lower = undefined;
        }
      }
      if (lower !== undefined) out.push(lower === '' ? '*' : lower);
    }
    for (const listed of a.versions ?? []) out.push(listed);
  }
  return out;
}

/** The lowest `fixed` event of `module`'s ranges above `version`: the fix the record names for it. */
function fixedFor(osv: Osv, module: string, version: string): string | null {
  const fixes = osv.affected
    .filter((x) => x.package.name === module)
    .flatMap((a) => a.ranges ?? [])
    .flatMap((r) => r.events.map((e) => e['fixed']).filter((f): f is string => f !== undefined))
    .filter((f) => v.compare(f, version) > 0)
    .sort(v.compare);
  return fixes[0] ?? null;
}

describe('goEcosystem', () => {
  it('plugs into the seam as purl type golang, OSV ecosystem Go', () => {
    expect(goEcosystem).toMatchObject({ purlType: 'golang', osvEcosystem: 'Go', defaultManifestPath: 'go.mod', lockfileCommands: ['go mod tidy'] });
    expect(goEcosystem.managers.map((m) => m.name)).toEqual(['gomod']);
    expect(goEcosystem.normaliseName('github.com/BurntSushi/toml')).toBe('github.com/BurntSushi/toml');
  });

  describe("reproduces viper v1.6.2's case.json (31 vulnerable module/advisory pairs)", () => {
    it.each(pairs.map((p) => [`${p.package} ${p.advisory}`, p] as const))('%s', (_label, pair) => {
      const osv = advisory(pair.advisory);
      const declared = manager.extract('go.mod', viper).dependencies.find((d) => d.name === pair.package)!;
      expect(declared.requirement.replace('+incompatible', '')).toBe(pair.version);
      const affected = ranges(osv, pair.package);
      expect(affected.length).toBeGreaterThan(0);
      expect(goEcosystem.proveRemediated(declared.requirement, declared.style, affected)).toMatchObject({ remediated: false, lowestAdmissible: declared.requirement });
      const fixed = fixedFor(osv, pair.package, declared.requirement);
      expect(fixed).toBe(pair.fixed);
      if (fixed === null) {
        // GO-2020-0017: github.com/dgrijalva/jwt-go has no fix; the record's fix is in github.com/dgrijalva/jwt-go/v4.
        const elsewhere = osv.affected.find((a) => a.package.name !== pair.package)!;
        const fix = fixedFor(osv, elsewhere.package.name, '0.0.0')!;
        expect(elsewhere.package.name).toBe(`${pair.package}/v4`);
        const refused = manager.raiseFloor('go.mod', viper, pair.package, fix);
        expect(refused).toMatchObject({ status: 'refused', reason: 'new-module-path' });
        if (refused.status === 'refused') expect(refused.message).toContain(`is in ${pair.package}/v4, a new module path: code changes needed`);
        return;
      }
      expect(v.jump(declared.requirement, fixed) === 'major').toBe(pair.major_bump);
      const edit = manager.raiseFloor('go.mod', viper, pair.package, fixed);
      if (edit.status !== 'edited') throw new Error(`${pair.package}: ${edit.status}`);
      expect(edit.after).toBe(`v${fixed}`);
      const { offset, length } = declared.location;
      expect(edit.text).toBe(viper.slice(0, offset) + `v${fixed}` + viper.slice(offset + length));
      const after = manager.extract('go.mod', edit.text).dependencies.find((d) => d.name === pair.package)!;
      expect(goEcosystem.proveRemediated(after.requirement, after.style, affected)).toMatchObject({ remediated: true, lowestAdmissible: `v${fixed}` });
    });

    it('one edit per module to the highest fix clears every advisory of that module', () => {
      const modules = [...new Set(pairs.filter((p) => p.fixed !== null).map((p) => p.package))];
      for (const module of modules) {
        const mine = pairs.filter((p) => p.package === module);
        const highest = mine.map((p) => p.fixed!).sort(v.compare).at(-1)!;
        const edit = manager.raiseFloor('go.mod', viper, module, highest);
        if (edit.status !== 'edited') throw new Error(`${module}: ${edit.status}`);
        const after = manager.extract('go.mod', edit.text).dependencies.find((d) => d.name === module)!;
        const affected = mine.flatMap((p) => ranges(advisory(p.advisory), module));
        expect(goEcosystem.proveRemediated(after.requirement, after.style, affected).remediated, module).toBe(true);
        // One below the highest fix is still affected by some advisory (the ranges are what decides).
        const lower = mine.map((p) => p.fixed!).sort(v.compare).at(-2);
        if (lower !== undefined && v.compare(lower, highest) < 0) expect(goEcosystem.proveRemediated(`v${lower}`, 'npm', affected).remediated, module).toBe(false);
      }
    });

    it('moderate tier: newest unaffected in the same major, from the proxy fixture lists; v0 → v1 only as a fallback', () => {
      const list = (path: string) => fromVersionList(readFileSync(fixturePath(`registry/go/${path}/@v/list`), 'utf8'));
      const moderate = (module: string, listPath: string) => {
        const current = manager.extract('go.mod', viper).dependencies.find((d) => d.name === module)!.requirement;
        const affected = pairs.filter((p) => p.package === module).flatMap((p) => ranges(advisory(p.advisory), module));
        const fixed = v.candidates(list(listPath), [current]).filter((c) => v.compare(c, current) > 0 && !affected.some((r) => v.satisfies(c, r)));
        return { line: fixed.filter((c) => v.sameLine(current, c)).at(-1) ?? null, minimal: fixed[0] ?? null };
      };
      expect(moderate('golang.org/x/net', 'golang.org/x/net')).toEqual({ line: 'v0.56.0', minimal: 'v0.56.0' });
      expect(moderate('google.golang.org/grpc', 'google.golang.org/grpc')).toEqual({ line: 'v1.82.1', minimal: 'v1.82.1' });
      expect(moderate('github.com/prometheus/client_golang', 'github.com/prometheus/client_golang')).toEqual({ line: null, minimal: 'v1.11.1' });
      expect(moderate('gopkg.in/yaml.v2', 'gopkg.in/yaml.v2')).toEqual({ line: 'v2.2.8', minimal: 'v2.2.8' });
      // The pre-release fix of the /v4 module path is never a candidate.
      expect(v.candidates(list('github.com/dgrijalva/jwt-go/v4'))).toEqual([]);
    });
  });

  it('proof reads comma-joined ranges too, and refuses what it cannot read', () => {
    expect(goEcosystem.proveRemediated('v1.57.0', 'npm', ['>=1.57.0,<1.57.1'])).toMatchObject({ remediated: false });
    expect(goEcosystem.proveRemediated('v1.57.1', 'npm', ['>=1.57.0,<1.57.1'])).toMatchObject({ remediated: true, lowestAdmissible: 'v1.57.1' });
    expect(goEcosystem.proveRemediated('v3.2.0+incompatible', 'npm', ['>=0.0.0-20150717181359-44718f8a89b0'])).toMatchObject({ remediated: false, lowestAdmissible: 'v3.2.0+incompatible' });
    expect(goEcosystem.proveRemediated('master', 'npm', ['<1.0.0'])).toMatchObject({ remediated: false, lowestAdmissible: null });
    expect(goEcosystem.proveRemediated('v1.0.0', 'npm', ['<<1'])).toMatchObject({ remediated: false, lowestAdmissible: 'v1.0.0' });
    expect(goEcosystem.proveRemediated('v1.0.0', 'npm', []).remediated).toBe(true);
  });

  it('finds Go code importing a module: single, grouped, aliased, dot/blank imports and subpackages', () => {
    const uses = (module: string, code: string): boolean => goEcosystem.usagePatterns(module).some((p) => p.test(code));
    expect(uses('github.com/spf13/viper', 'import "github.com/spf13/viper"')).toBe(true);
    expect(uses('github.com/spf13/viper', 'import (\n\t"fmt"\n\n\t"github.com/spf13/viper"\n)')).toBe(true);
    expect(uses('gopkg.in/yaml.v2', 'import (\n\tyaml "gopkg.in/yaml.v2" // config\n)')).toBe(true);
    expect(uses('golang.org/x/net', 'import (\n\t"golang.org/x/net/http2"\n\t_ "golang.org/x/net/html"\n)')).toBe(true);
    expect(uses('github.com/gorilla/websocket', 'import ws "github.com/gorilla/websocket"')).toBe(true);
    expect(uses('github.com/gorilla/websocket', 'import . `github.com/gorilla/websocket`')).toBe(true);
    expect(uses('google.golang.org/grpc', 'import ("context"; "google.golang.org/grpc/codes")')).toBe(true);
    expect(uses('github.com/spf13/viper', 'import "github.com/spf13/viperx"\n// github.com/spf13/viper is great')).toBe(false);
    expect(uses('gopkg.in/yaml.v2', 'import "gopkg.in/yaml.v3"')).toBe(false);
  });
});
