import { describe, expect, it } from 'vitest';
import {
  cargoEcosystem,
  ECOSYSTEMS,
  goEcosystem,
  ecosystemFor,
  ecosystemForOsv,
  lowestAdmissibleVersion,
  mavenEcosystem,
  npmEcosystem,
  npmVersioning,
  poetryToPep440,
  provePythonRemediated,
  pypiEcosystem,
  pythonImportNames,
} from './index.js';

describe('the ecosystem map', () => {
  it('registers npm, pypi, cargo, golang and maven by purl type and by OSV ecosystem name', () => {
    expect([...ECOSYSTEMS.keys()].sort()).toEqual(['cargo', 'golang', 'maven', 'npm', 'pypi']);
    expect(ecosystemFor('PyPI')).toBe(pypiEcosystem);
    expect(ecosystemFor('npm')).toBe(npmEcosystem);
    expect(ecosystemFor('Cargo')).toBe(cargoEcosystem);
    expect(ecosystemFor('golang')).toBe(goEcosystem);
    expect(ecosystemFor('maven')).toBe(mavenEcosystem);
    expect(ecosystemForOsv('PyPI')).toBe(pypiEcosystem);
    expect(ecosystemForOsv('crates.io')).toBe(cargoEcosystem);
    expect(ecosystemForOsv('Go')).toBe(goEcosystem);
    expect(ecosystemForOsv('Maven')).toBe(mavenEcosystem);
    expect(ecosystemForOsv('go')).toBeUndefined();
  });

  it("names the source files each ecosystem's usage search reads", () => {
    expect(npmEcosystem.sourceExtensions).toEqual(['.js', '.cjs', '.mjs', '.jsx', '.ts', '.tsx', '.mts', '.cts']);
    expect(pypiEcosystem.sourceExtensions).toEqual(['.py', '.pyi']);
    expect(cargoEcosystem.sourceExtensions).toEqual(['.rs']);
    expect(goEcosystem.sourceExtensions).toEqual(['.go']);
    for (const e of ECOSYSTEMS.values()) for (const ext of e.sourceExtensions) expect(ext).toMatch(/^\.[a-z]+$/);
  });
});

describe('npm versioning', () => {
  it('orders by semver precedence and keeps caret lines', () => {
    expect(['1.10.0', '1.2.0', '1.2.0-rc.1'].sort(npmVersioning.compare)).toEqual(['1.2.0-rc.1', '1.2.0', '1.10.0']);
    expect(npmVersioning.sameLine('1.15.0', '1.99.0')).toBe(true);
    expect(npmVersioning.sameLine('0.6.0', '0.7.0')).toBe(false);
    expect(npmVersioning.jump('0.6.0', '0.7.0')).toBe('major');
    expect(npmVersioning.jump('0.0.3', '0.0.4')).toBe('minor');
    expect(npmVersioning.jump('4.19.2', '4.20.0')).toBe('minor');
    expect(npmVersioning.satisfies('1.20.3-beta.1', '<1.20.3')).toBe(true);
    expect(() => npmVersioning.compare('x', '1.0.0')).toThrow(/not a semver version/);
  });

  it('offers stable, not deprecated, not yanked versions unless in use', () => {
    const published = [
      { version: '1.0.0', yanked: false, deprecated: false },
      { version: '1.1.0', yanked: false, deprecated: true },
      { version: '2.0.0-rc.1', yanked: false, deprecated: false },
      { version: '1.0.1', yanked: false, deprecated: false },
    ];
    expect(npmVersioning.candidates(published)).toEqual(['1.0.0', '1.0.1']);
    expect(npmVersioning.candidates(published, ['2.0.0-rc.1'])).toEqual(['1.0.0', '1.0.1', '2.0.0-rc.1']);
  });
});

describe('Python proof of remediation', () => {
  it('reads Poetry constraints as PEP 440 specifier sets', () => {
    expect(poetryToPep440('^2.28.1')).toBe('>=2.28.1,<3');
    expect(poetryToPep440('^0.2.3')).toBe('>=0.2.3,<0.3');
    expect(poetryToPep440('~1.2.3')).toBe('>=1.2.3,<1.3');
    expect(poetryToPep440('4.2.14')).toBe('==4.2.14');
    expect(poetryToPep440('*')).toBe('');
    expect(poetryToPep440('^1 || ^2')).toBeNull();
  });

  it('takes the highest floor the set still allows', () => {
    expect(lowestAdmissibleVersion('>=4.2,!=4.2.1,==4.2.14')).toBe('4.2.14');
    expect(lowestAdmissibleVersion('~=2.31')).toBe('2.31');
    expect(lowestAdmissibleVersion('<3')).toBeNull();
    expect(lowestAdmissibleVersion('>=5,<4')).toBeNull();
  });

  it('proves a raised floor and refuses one still inside an affected range', () => {
    const affected = ['>=4.2,<4.2.14', '<3.2.20'];
    expect(provePythonRemediated('==4.2.14', 'pep440', affected)).toMatchObject({ remediated: true, lowestAdmissible: '4.2.14' });
    expect(provePythonRemediated('==4.2', 'pep440', affected)).toMatchObject({ remediated: false, lowestAdmissible: '4.2' });
    expect(provePythonRemediated('^4.2.14', 'poetry', affected)).toMatchObject({ remediated: true });
    expect(provePythonRemediated('^4.2', 'poetry', affected).reason).toContain('inside the affected range ">=4.2,<4.2.14"');
    expect(provePythonRemediated('>=5.2b1', 'pep440', ['<5.2b1'])).toMatchObject({ remediated: true });
    expect(provePythonRemediated('<3', 'pep440', ['<2'])).toMatchObject({ remediated: false, lowestAdmissible: null });
    expect(provePythonRemediated('==1', 'pep440', ['not a range']).reason).toContain('not a PEP 440 specifier set');
    expect(pypiEcosystem.proveRemediated('==2.31.0', 'pep440', ['<2.31.0']).remediated).toBe(true);
  });
});

describe('usage search patterns', () => {
  const finds = (patterns: RegExp[], source: string): boolean => patterns.some((p) => p.test(source));

  it('finds Python imports by the module name a distribution is imported as', () => {
    expect(pythonImportNames('PyYAML')).toEqual(['yaml']);
    expect(pythonImportNames('Flask_SQLAlchemy')).toEqual(['flask_sqlalchemy']);
    const yaml = pypiEcosystem.usagePatterns('PyYAML');
    expect(finds(yaml, 'import os\nimport yaml\n')).toBe(true);
    expect(finds(yaml, 'from yaml.loader import SafeLoader')).toBe(true);
    expect(finds(yaml, 'import os, yaml as y')).toBe(true);
    expect(finds(yaml, 'import yamlish')).toBe(false);
    expect(finds(yaml, '# yaml is not imported here')).toBe(false);
    expect(finds(pypiEcosystem.usagePatterns('Django'), 'from django.db import models')).toBe(true);
  });

  it('finds npm require and import forms, subpaths included', () => {
    const p = npmEcosystem.usagePatterns('express-jwt');
    expect(finds(p, "const jwt = require('express-jwt');")).toBe(true);
    expect(finds(p, 'import { expressjwt } from "express-jwt";')).toBe(true);
    expect(finds(p, "import('express-jwt/lib/x')")).toBe(true);
    expect(finds(p, "require('express-jwt-extra')")).toBe(false);
    expect(finds(npmEcosystem.usagePatterns('@types/node'), "import type { X } from '@types/node';")).toBe(true);
  });
});
