import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { requirementsTxtManager as pip } from './requirements-txt.js';

const fixture = (path: string): string => readFileSync(fileURLToPath(new URL(`./__fixtures__/${path}`, import.meta.url)), 'utf8');

/** `text` with exactly one occurrence of `from` replaced by `to` (asserted unique): the expected bytes. */
function replacedOnce(text: string, from: string, to: string): string {
  expect(text.split(from)).toHaveLength(2);
  return text.replace(from, to);
}

function edited(file: string, text: string, name: string, fixed: string): string {
  const result = pip.raiseFloor(file, text, name, fixed);
  if (result.status !== 'edited') throw new Error(`expected an edit, got ${JSON.stringify(result)}`);
  return result.text;
}

describe('requirementsTxtManager', () => {
  it('matches requirements files', () => {
    expect(pip.matches('requirements.txt')).toBe(true);
    expect(pip.matches('app/requirements-dev.txt')).toBe(true);
    expect(pip.matches('requirements/prod.txt')).toBe(true);
    expect(pip.matches('docs/notes.txt')).toBe(false);
  });

  describe('real manifests (byte-exact edits)', () => {
    it.each([
      ['pygoat/requirements.txt', 'django', '4.2.14', 'Django==4.2\n', 'Django==4.2.14\n'],
      ['pygoat/requirements.txt', 'pyyaml', '5.4', 'PyYAML==5.1\n', 'PyYAML==5.4\n'],
      ['dvpwa/requirements.txt', 'aiohttp', '3.9.2', 'aiohttp==3.5.3\n', 'aiohttp==3.9.2\n'],
      ['dvpwa/requirements.txt', 'jinja2', '2.11.3', 'jinja2==2.10              # via', 'jinja2==2.11.3              # via'],
      ['vulnerable-flask-app/requirements.txt', 'werkzeug', '2.3.8', 'Werkzeug==0.14.1', 'Werkzeug==2.3.8'],
      ['vulnerable-flask-app/requirements.txt', 'Flask', '0.12.3', 'Flask==0.12.2\n', 'Flask==0.12.3\n'],
      ['pygoat/dockerized_labs/broken_auth_lab/requirements.txt', 'werkzeug', '2.3.8', 'Werkzeug==2.3.7', 'Werkzeug==2.3.8'],
      ['pygoat/dockerized_labs/insec_des_lab/requirements.txt', 'werkzeug', '3.0.6', 'Werkzeug==3.0.1', 'Werkzeug==3.0.6'],
      ['pygoat/dockerized_labs/sensitive_data_exposure/requirements.txt', 'requests', '2.31.0', 'requests==2.28.1\n', 'requests==2.31.0\n'],
    ])('%s: %s → %s', (path, name, fixed, from, to) => {
      const text = fixture(path);
      expect(edited(path, text, name, fixed)).toBe(replacedOnce(text, from, to));
    });

    it('finds every pin of the real manifests with its line and section', () => {
      const deps = pip.extract('requirements.txt', fixture('vulnerable-flask-app/requirements.txt')).dependencies;
      expect(deps).toHaveLength(28);
      expect(deps.find((d) => d.normalisedName === 'mysql-python')).toMatchObject({ name: 'MySQL-python', requirement: '==1.2.5', location: { line: 17, section: 'requirements' } });
      const dvpwa = pip.extract('requirements.txt', fixture('dvpwa/requirements.txt')).dependencies;
      expect(dvpwa.map((d) => d.normalisedName)).toContain('trafaret-config');
      expect(dvpwa.every((d) => d.requirement.startsWith('=='))).toBe(true);
      const lab = fixture('pygoat/dockerized_labs/broken_auth_lab/requirements.txt');
      const markupsafe = pip.extract('x/requirements.txt', lab).dependencies.at(-1)!;
      expect(markupsafe).toMatchObject({ name: 'MarkupSafe', requirement: '==2.1.3' });
      expect(lab.slice(markupsafe.location.offset, markupsafe.location.offset + markupsafe.location.length)).toBe('==2.1.3');
    });
  });

  describe('styles', () => {
    const file = 'requirements-styles.txt';
    const text = fixture(file);

    it('reads pins, ranges, extras, markers, parentheses and continuations; skips options, editables, paths', () => {
      const deps = pip.extract(file, text).dependencies;
      expect(deps.map((d) => [d.name, d.requirement])).toEqual([
        ['Django', '==3.2.18'],
        ['requests', '>= 2.28.1, < 3'],
        ['urllib3', '~=1.26.9'],
        ['idna', '~=2.8'],
        ['PyYAML', '!=5.4,>=5.1'],
        ['Jinja2', '==2.10'],
        ['lxml', '==4.2.1'],
        ['lxml', '==4.2.1'],
        ['werkzeug', '>=0.14.1'],
        ['sqlparse', ''],
        ['aiohttp', '>=3.5,<3.6'],
        ['mypkg', ''],
      ]);
      expect(deps[1]).toMatchObject({ extras: ['socks', 'security'], location: { line: 5 } });
      expect(deps[6]!.marker).toBe('python_version >= "3.6"');
      expect(deps[8]!.location.line).toBe(13);
      expect(deps[11]!.uneditable).toMatch(/direct reference/);
    });

    it.each([
      ['Django', '3.2.25', 'Django==3.2.18     ', 'Django==3.2.25     '],
      ['requests', '2.31.0', '>= 2.28.1, < 3', '>= 2.31.0, < 3'],
      ['urllib3', '1.26.18', 'urllib3~=1.26.9\n', 'urllib3~=1.26.18\n'],
      ['idna', '3.7', 'idna~=2.8\n', 'idna~=3.7\n'],
      ['pyyaml', '5.3.1', 'PyYAML!=5.4,>=5.1\n', 'PyYAML!=5.4,>=5.3.1\n'],
      ['jinja2', '2.10.1', 'Jinja2 (==2.10)', 'Jinja2 (==2.10.1)'],
      ['Werkzeug', '0.15.3', '    >=0.14.1\n', '    >=0.15.3\n'],
      ['sqlparse', '0.4.4', '\nsqlparse\n', '\nsqlparse>=0.4.4\n'],
    ])('%s raised to %s changes only its requirement', (name, fixed, from, to) => {
      expect(edited(file, text, name, fixed)).toBe(replacedOnce(text, from, to));
    });

    it('raises every marker-specific line of the same package', () => {
      const out = edited(file, text, 'lxml', '4.6.5');
      expect(out).toBe(text.replaceAll('lxml==4.2.1 ;', 'lxml==4.6.5 ;'));
    });

    it('keeps CRLF line endings and a missing final newline', () => {
      const crlf = fixture('requirements-crlf.txt');
      expect(edited('requirements-crlf.txt', crlf, 'werkzeug', '2.3.8')).toBe(replacedOnce(crlf, 'Werkzeug==0.14.1\r\n', 'Werkzeug==2.3.8\r\n'));
      expect(edited('requirements-crlf.txt', crlf, 'requests', '2.31.0')).toBe(replacedOnce(crlf, 'requests==2.18.1', 'requests==2.31.0'));
      expect(pip.extract('requirements-crlf.txt', crlf).dependencies.map((d) => d.location.line)).toEqual([1, 2, 4]);
    });

    it('reports unchanged, a cap below the fix, a direct reference and an absent name instead of editing', () => {
      expect(pip.raiseFloor(file, text, 'django', '3.2.0')).toMatchObject({ status: 'unchanged', requirement: '==3.2.18' });
      expect(pip.raiseFloor(file, text, 'aiohttp', '3.9.2')).toMatchObject({ status: 'refused', reason: 'cap-excludes-fix' });
      expect(pip.raiseFloor(file, text, 'mypkg', '2.0')).toMatchObject({ status: 'refused', reason: 'unsupported-requirement' });
      expect(pip.raiseFloor(file, text, 'flask', '2.2.5')).toMatchObject({ status: 'refused', reason: 'not-found', message: 'flask is not a direct dependency in requirements-styles.txt' });
    });
  });

  it('refuses a pin with hashes, naming the lockfile command', () => {
    const text = fixture('requirements-hashes.txt');
    const contents = pip.extract('requirements-hashes.txt', text);
    expect(contents.hashChecking).toBe(true);
    expect(contents.dependencies.map((d) => [d.name, d.requirement, d.hashes, d.location.line])).toEqual([
      ['idna', '==3.4', true, 7],
      ['requests', '==2.28.2', true, 11],
    ]);
    expect(pip.raiseFloor('requirements-hashes.txt', text, 'requests', '2.31.0')).toMatchObject({
      status: 'refused',
      reason: 'hashes',
      lockfileCommand: 'pip-compile --generate-hashes',
    });
  });

  it('reports -r / -c includes resolved inside the repository', () => {
    const text = fixture('requirements-includes.txt');
    const contents = pip.extract('app/requirements/prod.txt', text);
    expect(contents.includes).toEqual([
      { kind: 'requirements', path: 'base.txt', resolved: 'app/requirements/base.txt', line: 1 },
      { kind: 'constraints', path: 'constraints.txt', resolved: 'app/requirements/constraints.txt', line: 2 },
      { kind: 'requirements', path: '../common/requirements-common.txt', resolved: 'app/common/requirements-common.txt', line: 3 },
      { kind: 'requirements', path: 'dev.txt', resolved: 'app/requirements/dev.txt', line: 4 },
      { kind: 'constraints', path: '../../outside.txt', resolved: 'outside.txt', line: 5 },
      { kind: 'requirements', path: 'https://example.com/remote.txt', resolved: null, line: 6 },
    ]);
    expect(contents.dependencies.map((d) => d.name)).toEqual(['flask']);
    // from the repository root, ../../outside.txt leaves the repository
    expect(pip.extract('requirements.txt', text).includes[4]).toEqual({ kind: 'constraints', path: '../../outside.txt', resolved: null, line: 5 });
  });
});
