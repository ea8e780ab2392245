import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '@remediation/errors';
import { pep621Manager as pep621, poetryManager as poetry } from './pyproject.js';

const fixture = (path: string): string => readFileSync(fileURLToPath(new URL(`./__fixtures__/${path}`, import.meta.url)), 'utf8');

function replacedOnce(text: string, from: string, to: string): string {
  expect(text.split(from)).toHaveLength(2);
  return text.replace(from, to);
}

describe('pep621Manager', () => {
  const file = 'pyproject.toml';
  const text = fixture('pyproject-pep621.toml');

  it('reads [project] dependencies and optional-dependencies with sections and lines', () => {
    const deps = pep621.extract(file, text).dependencies;
    expect(deps.map((d) => [d.name, d.requirement, d.location.section, d.location.line])).toEqual([
      ['Django', '==4.2', 'project.dependencies', 11],
      ['requests', '>=2.28.1,<3', 'project.dependencies', 12],
      ['PyYAML', '~= 5.1', 'project.dependencies', 13],
      ['idna', '', 'project.dependencies', 14],
      ['urllib3', '>=1.26.9', 'project.dependencies', 15],
      ['pytest', '>=7', 'project.optional-dependencies.test', 19],
      ['werkzeug', '==2.1.2', 'project.optional-dependencies.test', 19],
      ['jinja2', '>=2.10', 'project.optional-dependencies.docs', 21],
    ]);
    expect(deps[2]!.marker).toBe("python_version >= '3.9'");
    expect(deps[1]!.extras).toEqual(['socks']);
    expect(pep621.matches('sub/pyproject.toml')).toBe(true);
    expect(pep621.matches('requirements.txt')).toBe(false);
  });

  it.each([
    ['django', '4.2.14', '"Django==4.2",', '"Django==4.2.14",'],
    ['requests', '2.31.0', "'requests[socks] >=2.28.1,<3',", "'requests[socks] >=2.31.0,<3',"],
    ['pyyaml', '5.4', '"PyYAML ~= 5.1 ;', '"PyYAML ~= 5.4 ;'],
    ['idna', '3.7', '"idna",', '"idna>=3.7",'],
    ['urllib3', '1.26.18', '"urllib3 (>=1.26.9)"', '"urllib3 (>=1.26.18)"'],
    ['Werkzeug', '2.3.8', '"werkzeug==2.1.2"]', '"werkzeug==2.3.8"]'],
    ['jinja2', '2.11.3', '"jinja2>=2.10",', '"jinja2>=2.11.3",'],
  ])('%s raised to %s: only the requirement changes (byte-exact)', (name, fixed, from, to) => {
    const result = pep621.raiseFloor(file, text, name, fixed);
    expect(result.status).toBe('edited');
    expect(result.status === 'edited' && result.text).toBe(replacedOnce(text, from, to));
  });

  it('does not touch non-dependency strings and reports absent names', () => {
    expect(pep621.raiseFloor(file, text, 'setuptools', '70')).toMatchObject({ status: 'refused', reason: 'not-found' });
    expect(pep621.raiseFloor(file, text, 'pytest', '6')).toMatchObject({ status: 'unchanged' });
  });

  it('refuses a string with escapes rather than re-serialising it', () => {
    const escaped = '[project]\ndependencies = ["Django\\u003D=4.2"]\n';
    expect(pep621.raiseFloor(file, escaped, 'django', '4.2.14')).toMatchObject({ status: 'refused', reason: 'unsupported-requirement' });
  });

  it('reports invalid TOML with MANIFEST_INVALID', () => {
    expect(() => pep621.extract(file, '[project\ndependencies = [')).toThrow(InvalidInputError);
    expect(() => pep621.extract(file, '[project\ndependencies = [')).toThrow(/pyproject.toml is not valid TOML/);
  });
});

describe('poetryManager', () => {
  const file = 'pyproject.toml';
  const text = fixture('pyproject-poetry.toml');

  it('reads main, sub-table, group and multiple-constraint entries; python is not a dependency', () => {
    const deps = poetry.extract(file, text).dependencies;
    expect(deps.map((d) => [d.name, d.requirement, d.location.section, d.location.line])).toEqual([
      ['Django', '^3.2.18', 'tool.poetry.dependencies', 9],
      ['requests', '~2.28.1', 'tool.poetry.dependencies', 10],
      ['PyYAML', '5.1', 'tool.poetry.dependencies', 11],
      ['idna', '*', 'tool.poetry.dependencies', 12],
      ['urllib3', '>=1.26.9,<2', 'tool.poetry.dependencies', 13],
      ['aiohttp', '~=3.5', 'tool.poetry.dependencies', 14],
      ['flask', '^2.0 || ^3.0', 'tool.poetry.dependencies', 15],
      ['Jinja2', '==2.10', 'tool.poetry.dependencies', 18],
      ['werkzeug', '2.1.2', 'tool.poetry.group.dev.dependencies', 22],
      ['pytest', '^7.0', 'tool.poetry.group.dev.dependencies', 23],
      ['sqlparse', '^0.3.1', 'tool.poetry.group.test.dependencies', 27],
      ['sqlparse', '^0.4.0', 'tool.poetry.group.test.dependencies', 28],
    ]);
    expect(deps.every((d) => d.style === 'poetry')).toBe(true);
  });

  it.each([
    ['django', '3.2.25', 'Django = "^3.2.18"', 'Django = "^3.2.25"'],
    ['requests', '2.31.0', 'version = "~2.28.1"', 'version = "~2.31.0"'],
    ['pyyaml', '5.4', 'PyYAML = "5.1"', 'PyYAML = "5.4"'],
    ['idna', '3.7', 'idna = "*"', 'idna = ">=3.7"'],
    ['urllib3', '1.26.18', '">=1.26.9,<2"', '">=1.26.18,<2"'],
    ['aiohttp', '3.9.2', "aiohttp = '~=3.5'", "aiohttp = '~=3.9.2'"],
    ['jinja2', '2.10.1', 'version = "==2.10"', 'version = "==2.10.1"'],
    ['werkzeug', '2.3.8', 'werkzeug = "2.1.2"', 'werkzeug = "2.3.8"'],
  ])('%s raised to %s: only the constraint changes (byte-exact)', (name, fixed, from, to) => {
    const result = poetry.raiseFloor(file, text, name, fixed);
    expect(result.status).toBe('edited');
    expect(result.status === 'edited' && result.text).toBe(replacedOnce(text, from, to));
  });

  it('raises each constraint of a multiple-constraint entry that is below the fix', () => {
    const result = poetry.raiseFloor(file, text, 'sqlparse', '0.4.4');
    expect(result.status === 'edited' && result.text).toBe(
      text.replace('{ version = "^0.3.1"', '{ version = "^0.4.4"').replace('{ version = "^0.4.0"', '{ version = "^0.4.4"'),
    );
  });

  it('refuses a union and reports python and absent names as not found', () => {
    expect(poetry.raiseFloor(file, text, 'flask', '2.2.5')).toMatchObject({ status: 'refused', reason: 'unsupported-requirement' });
    expect(poetry.raiseFloor(file, text, 'python', '3.12')).toMatchObject({ status: 'refused', reason: 'not-found' });
    expect(poetry.raiseFloor(file, text, 'pytest', '7.0')).toMatchObject({ status: 'unchanged' });
  });
});
