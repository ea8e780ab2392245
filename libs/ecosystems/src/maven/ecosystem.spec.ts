import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixturePath } from '@remediation/testing';
import { ecosystemFor, ecosystemForOsv } from '../registry.js';
import { mavenEcosystem } from './ecosystem.js';
import { fromMavenMetadata, mavenMetadataPath } from './maven-repository-source.js';
import { findVersionSite, raiseInMavenProject } from './pom.js';

interface Osv {
  id: string;
  affected: Array<{ package: { ecosystem: string; name: string }; ranges: Array<{ type: string; events: Array<Record<string, string>> }> }>;
}
const advisory = (id: string): Osv => JSON.parse(readFileSync(fixturePath(`osv/Maven/${id}.json`), 'utf8')) as Osv;

/** Comparator sets of a record's ECOSYSTEM ranges for `name` (the syntax the OSV evaluation renders for Maven). */
function ranges(osv: Osv, name: string): Array<{ range: string; fixed?: string }> {
  const out: Array<{ range: string; fixed?: string }> = [];
  for (const a of osv.affected.filter((x) => x.package.name === name)) {
    for (const r of a.ranges.filter((x) => x.type === 'ECOSYSTEM')) {
      let lower: string | undefined;
      for (const e of r.events) {
        if (e['introduced'] !== undefined) lower = e['introduced'] === '0' ? '' : `>=${e['introduced']}`;
        if (e['fixed'] !== undefined) {
          out.push({ range: [lower, `<${e['fixed']}`].filter((x) => x).join(','), fixed: e['fixed'] });
          lower = undefined;
        }
      }
      if (lower !== undefined) out.push({ range: lower === '' ? '>=0' : lower });
    }
  }
  return out;
}

const ROOT = join(import.meta.dirname, '__fixtures__', 'java-goof');
interface Case {
  files: string[];
  vulnerable: Array<{ package: string; version: string; version_source: string; advisory: string; fixed: string }>;
}
const CASE = JSON.parse(readFileSync(join(ROOT, 'case.json'), 'utf8')) as Case;
const POMS = new Map(CASE.files.map((f) => [f, readFileSync(join(ROOT, f), 'utf8')]));

describe('mavenEcosystem', () => {
  it('plugs into the seam as purl type maven, OSV ecosystem Maven, and is registered', () => {
    expect(mavenEcosystem).toMatchObject({ purlType: 'maven', osvEcosystem: 'Maven', defaultManifestPath: 'pom.xml', lockfileCommands: [], testCommands: ['mvn -q verify'], sourceExtensions: ['.java', '.kt'] });
    expect(mavenEcosystem.managers.map((m) => m.name)).toEqual(['maven']);
    expect(mavenEcosystem.normaliseName('org.apache.logging.log4j:log4j-core')).toBe('org.apache.logging.log4j:log4j-core');
    expect(ecosystemFor('MAVEN')).toBe(mavenEcosystem);
    expect(ecosystemForOsv('Maven')).toBe(mavenEcosystem);
  });

  it('reproduces every declared pair of java-goof’s case.json: version found, fixed version from the OSV record, byte-exact raise, proof', () => {
    let reproduced = 0;
    for (const pair of CASE.vulnerable) {
      const file = pair.version_source.split(' ')[0]!;
      const site = POMS.has(file) ? findVersionSite(POMS, file, pair.package) : null;
      if (pair.version_source.startsWith('transitive')) {
        // spring-core / spring-expression come in through spring-context: no pom declares them.
        expect(CASE.files.some((f) => findVersionSite(POMS, f, pair.package) !== null), pair.package).toBe(false);
        continue;
      }
      expect(site?.text.value, `${pair.package} in ${file}`).toBe(pair.version);
      const all = ranges(advisory(pair.advisory), pair.package);
      const hit = all.find((r) => mavenEcosystem.versioning.satisfies(pair.version, r.range));
      expect(hit?.fixed, `${pair.package}@${pair.version} ${pair.advisory}`).toBe(pair.fixed);
      const affected = all.map((r) => r.range);
      expect(mavenEcosystem.proveRemediated(pair.version, 'maven', affected).remediated).toBe(false);
      const edit = raiseInMavenProject(POMS, file, pair.package, pair.fixed);
      if (edit.status !== 'edited') throw new Error(`${pair.package}: ${JSON.stringify(edit)}`);
      const before = POMS.get(edit.file)!;
      expect(edit.text).toBe(before.slice(0, site!.text.offset) + pair.fixed + before.slice(site!.text.offset + pair.version.length));
      expect(mavenEcosystem.proveRemediated(edit.after, 'maven', affected)).toMatchObject({ remediated: true, lowestAdmissible: pair.fixed });
      reproduced++;
    }
    expect(reproduced).toBe(16);
  });

  it('finds the moderate-tier fix on the same first numeric component over the fixture repository', () => {
    const name = 'org.apache.logging.log4j:log4j-core';
    const { versions } = fromMavenMetadata(name, readFileSync(fixturePath(`registry/maven/${mavenMetadataPath(name)}`), 'utf8'), 'fixture');
    const affected = ['GHSA-7rjr-3q55-vv33', 'GHSA-8489-44mv-ggj8', 'GHSA-fxph-q3j8-mv87', 'GHSA-jfh8-c2jp-5v3q', 'GHSA-p6xc-xr62-6r2g'].flatMap((id) => ranges(advisory(id), name).map((r) => r.range));
    const v = mavenEcosystem.versioning;
    const unaffected = v.candidates(versions).filter((c) => !affected.some((r) => v.satisfies(c, r)));
    expect(unaffected.filter((c) => v.compare(c, '2.7') > 0 && v.sameLine('2.7', c)).at(-1)).toBe('2.17.1');
    expect(unaffected.find((c) => v.compare(c, '2.14.1') > 0)).toBe('2.17.1');
    expect(v.candidates(versions)).not.toContain('2.0-beta7');
  });

  it('proves Maven ranges by their lowest inclusive bound and refuses what it cannot read', () => {
    const affected = ['>=2.13.0,<2.15.0', '<2.12.2'];
    expect(mavenEcosystem.proveRemediated('[2.17.1,3.0)', 'maven', affected)).toMatchObject({ remediated: true, lowestAdmissible: '2.17.1' });
    expect(mavenEcosystem.proveRemediated('[2.14,3.0)', 'maven', affected)).toMatchObject({ remediated: false, lowestAdmissible: '2.14' });
    expect(mavenEcosystem.proveRemediated('(2.14,3.0)', 'maven', affected)).toMatchObject({ remediated: false, lowestAdmissible: null });
    expect(mavenEcosystem.proveRemediated('${log4j.version}', 'maven', affected).remediated).toBe(false);
    expect(mavenEcosystem.proveRemediated('2.17.1', 'maven', ['~>2'])).toMatchObject({ remediated: false, lowestAdmissible: '2.17.1' });
  });

  it('finds Java and Kotlin code using an artifact by its packages', () => {
    const uses = (name: string, code: string): boolean => mavenEcosystem.usagePatterns(name).some((p) => p.test(code));
    expect(uses('org.apache.logging.log4j:log4j-core', 'import org.apache.logging.log4j.LogManager;')).toBe(true);
    expect(uses('org.apache.logging.log4j:log4j-core', 'import org.apache.logging.log4j.Logger')).toBe(true);
    expect(uses('org.apache.logging.log4j:log4j-core', 'var l = org.apache.logging.log4j.LogManager.getLogger();')).toBe(true);
    expect(uses('com.fasterxml.jackson.core:jackson-databind', 'import com.fasterxml.jackson.databind.ObjectMapper;')).toBe(true);
    expect(uses('org.apache.struts:struts2-core', 'import com.opensymphony.xwork2.ActionSupport;\nimport org.apache.struts2.ServletActionContext;')).toBe(true);
    expect(uses('org.springframework:spring-core', 'import static org.springframework.util.Assert.notNull;')).toBe(true);
    expect(uses('org.apache.logging.log4j:log4j-core', 'import org.apache.logging.log4jx.Foo;\nimport my.org.apache.logging.log4j.X;')).toBe(false);
  });
});
