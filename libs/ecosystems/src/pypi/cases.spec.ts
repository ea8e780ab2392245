import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { pypiEcosystem } from './ecosystem.js';

const fixture = (path: string): string => readFileSync(fileURLToPath(new URL(`./__fixtures__/${path}`, import.meta.url)), 'utf8');

interface Case {
  files: string[];
  vulnerable: Array<{ package: string; version: string; advisory: string; fixed: string | null; major_bump: boolean | null }>;
}

/** Manifest fixtures of each case, by the case's file paths (vulnerable-flask-app's `app/` dropped in __fixtures__). */
const cases: Record<string, string[]> = {
  pygoat: ['requirements.txt', 'dockerized_labs/broken_auth_lab/requirements.txt', 'dockerized_labs/insec_des_lab/requirements.txt', 'dockerized_labs/sensitive_data_exposure/requirements.txt'],
  dvpwa: ['requirements.txt'],
  'vulnerable-flask-app': ['requirements.txt'],
};

describe.each(Object.entries(cases))('case %s (case.json vulnerable pairs)', (name, files) => {
  const kase = JSON.parse(fixture(`${name}/case.json`)) as Case;
  const manifests = files.map((f) => ({ file: f, text: fixture(`${name}/${f}`) }));
  const manager = pypiEcosystem.managers.find((m) => m.name === 'pip-requirements')!;

  it('lists the same manifests as the case', () => {
    expect(kase.files.map((f) => f.replace(/^app\//, ''))).toEqual(files);
  });

  it.each(kase.vulnerable.filter((v) => v.fixed !== null).map((v) => [v.package, v.version, v.advisory, v.fixed!, v.major_bump] as const))(
    '%s %s (%s): pinned, raised to %s with only that pin changed; major jump = %s',
    (pkg, version, _advisory, fixed, major) => {
      const holding = manifests.filter(({ file, text }) =>
        manager.extract(file, text).dependencies.some((d) => d.normalisedName === pypiEcosystem.normaliseName(pkg) && d.requirement === `==${version}`),
      );
      expect(holding.length).toBeGreaterThan(0);
      for (const { file, text } of holding) {
        const result = manager.raiseFloor(file, text, pkg, fixed);
        expect(result.status).toBe('edited');
        if (result.status !== 'edited') continue;
        expect(result.after).toBe(`==${fixed}`);
        const changed = result.text.split('\n').filter((line, i) => line !== text.split('\n')[i]);
        expect(changed).toHaveLength(1);
        expect(result.text.length - text.length).toBe(fixed.length - version.length);
      }
      expect(pypiEcosystem.versioning.jump(version, fixed) === 'major').toBe(major);
    },
  );
});
