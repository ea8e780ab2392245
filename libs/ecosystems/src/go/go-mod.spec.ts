import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { thrownInvalidInput } from '@remediation/testing';
import { goModManager as m, modulePathForMajor, parseGoMod, pathMajor } from './go-mod.js';

const viper = readFileSync(new URL('./__fixtures__/viper-v1.6.2/go.mod', import.meta.url), 'utf8');

/** `text` with the first occurrence of `from` replaced by `to`: the only change an edit may make. */
const spliced = (text: string, from: string, to: string): string => {
  const at = text.indexOf(from);
  expect(at).toBeGreaterThanOrEqual(0);
  return text.slice(0, at) + to + text.slice(at + from.length);
};

describe('goModManager on viper v1.6.2 (real go.mod)', () => {
  it('matches go.mod files only', () => {
    expect(m.matches('go.mod')).toBe(true);
    expect(m.matches('tools/go.mod')).toBe(true);
    expect(m.matches('go.sum')).toBe(false);
    expect(m.matches('xgo.mod')).toBe(false);
  });

  it('extracts every requirement, direct and // indirect, with offsets of the version token', () => {
    const { dependencies, includes, hashChecking } = m.extract('go.mod', viper);
    expect(includes).toEqual([]);
    expect(hashChecking).toBe(false);
    // case.json's checked_deps: every require line, its version (without +incompatible) and whether it is // indirect.
    const checked = (JSON.parse(readFileSync(new URL('./__fixtures__/viper-v1.6.2/case.json', import.meta.url), 'utf8')) as { checked_deps: Array<{ package: string; version: string; version_source: string }> }).checked_deps;
    expect(checked).toHaveLength(42);
    expect(dependencies.map((d) => ({ package: d.name, version: d.requirement.replace('+incompatible', ''), version_source: `go.mod ${d.location.section}` }))).toEqual(checked);
    expect(dependencies.filter((d) => d.location.section === 'require').map((d) => d.name)).toEqual([
      'github.com/fsnotify/fsnotify',
      'github.com/hashicorp/hcl',
      'github.com/magiconair/properties',
      'github.com/mitchellh/mapstructure',
      'github.com/pelletier/go-toml',
      'github.com/spf13/afero',
      'github.com/spf13/cast',
      'github.com/spf13/jwalterweatherman',
      'github.com/spf13/pflag',
      'github.com/stretchr/testify',
      'github.com/subosito/gotenv',
      'github.com/xordataexchange/crypt',
      'gopkg.in/ini.v1',
      'gopkg.in/yaml.v2',
    ]);
    const lines = viper.split('\n');
    for (const d of dependencies) {
      expect(viper.slice(d.location.offset, d.location.offset + d.location.length)).toBe(d.requirement);
      expect(lines[d.location.line - 1]).toBe(`\t${d.name} ${d.requirement}${d.location.section === 'require' ? '' : ' // indirect'}`);
      expect(d).toMatchObject({ normalisedName: d.name, extras: [], hashes: false });
      expect(d.uneditable).toBeUndefined();
    }
    const net = dependencies.find((d) => d.name === 'golang.org/x/net')!;
    expect(net).toMatchObject({ requirement: 'v0.0.0-20190522155817-f3200d17e092', location: { file: 'go.mod', line: 43, section: 'require // indirect' } });
    expect(dependencies.find((d) => d.name === 'github.com/dgrijalva/jwt-go')!.requirement).toBe('v3.2.0+incompatible');
  });

  it('raises an indirect requirement byte-exactly, keeping // indirect', () => {
    const edit = m.raiseFloor('go.mod', viper, 'github.com/gogo/protobuf', '1.3.2');
    expect(edit).toMatchObject({ status: 'edited', before: 'v1.2.1', after: 'v1.3.2', location: { line: 14, section: 'require // indirect' } });
    if (edit.status !== 'edited') return;
    expect(edit.text).toBe(spliced(viper, 'github.com/gogo/protobuf v1.2.1 // indirect', 'github.com/gogo/protobuf v1.3.2 // indirect'));
  });

  it('raises a pseudo-version to the fixed pseudo-version of the OSV record, written with v', () => {
    const edit = m.raiseFloor('go.mod', viper, 'golang.org/x/net', '0.0.0-20220906165146-f3363e06e74c');
    expect(edit).toMatchObject({ status: 'edited', before: 'v0.0.0-20190522155817-f3200d17e092', after: 'v0.0.0-20220906165146-f3363e06e74c' });
    if (edit.status === 'edited') expect(edit.text).toBe(spliced(viper, 'v0.0.0-20190522155817-f3200d17e092', 'v0.0.0-20220906165146-f3363e06e74c'));
  });

  it('raises a direct requirement; v0 → v1 stays on the same module path', () => {
    const yaml = m.raiseFloor('go.mod', viper, 'gopkg.in/yaml.v2', 'v2.2.8');
    expect(yaml).toMatchObject({ status: 'edited', before: 'v2.2.4', after: 'v2.2.8', location: { section: 'require' } });
    if (yaml.status === 'edited') expect(yaml.text).toBe(spliced(viper, 'gopkg.in/yaml.v2 v2.2.4', 'gopkg.in/yaml.v2 v2.2.8'));
    const prometheus = m.raiseFloor('go.mod', viper, 'github.com/prometheus/client_golang', '1.11.1');
    expect(prometheus).toMatchObject({ status: 'edited', before: 'v0.9.3', after: 'v1.11.1' });
  });

  it('leaves a requirement already at or above the fix unchanged', () => {
    expect(m.raiseFloor('go.mod', viper, 'gopkg.in/yaml.v2', '2.2.4')).toMatchObject({ status: 'unchanged', requirement: 'v2.2.4' });
    expect(m.raiseFloor('go.mod', viper, 'google.golang.org/grpc', 'v1.20.0')).toMatchObject({ status: 'unchanged' });
  });

  it('refuses a fix in a new major version: a new module path needs code changes', () => {
    const jwt = m.raiseFloor('go.mod', viper, 'github.com/dgrijalva/jwt-go', '4.0.0-preview1');
    expect(jwt).toMatchObject({ status: 'refused', reason: 'new-module-path', lockfileCommand: 'go mod tidy' });
    if (jwt.status === 'refused') expect(jwt.message).toContain('the fix v4.0.0-preview1 of github.com/dgrijalva/jwt-go is in github.com/dgrijalva/jwt-go/v4, a new module path: code changes needed');
    const yaml = m.raiseFloor('go.mod', viper, 'gopkg.in/yaml.v2', '3.0.0');
    expect(yaml).toMatchObject({ status: 'refused', reason: 'new-module-path' });
    if (yaml.status === 'refused') expect(yaml.message).toContain('is in gopkg.in/yaml.v3, a new module path');
    const grpc = m.raiseFloor('go.mod', viper, 'google.golang.org/grpc', '2.0.0');
    if (grpc.status === 'refused') expect(grpc.message).toContain('google.golang.org/grpc/v2');
    expect(grpc.status).toBe('refused');
  });

  it('keeps +incompatible when the requirement has it (same module path)', () => {
    const edit = m.raiseFloor('go.mod', viper, 'github.com/dgrijalva/jwt-go', '3.2.1');
    expect(edit).toMatchObject({ status: 'edited', before: 'v3.2.0+incompatible', after: 'v3.2.1+incompatible' });
    if (edit.status === 'edited') expect(edit.text).toBe(spliced(viper, 'v3.2.0+incompatible', 'v3.2.1+incompatible'));
  });

  it('finds a module written lowercase (as some scanners write golang purls) when nothing matches exactly', () => {
    const mod = 'module a.example/b\n\nrequire github.com/AndrewBurian/powermux v1.1.0\n';
    expect(m.raiseFloor('go.mod', mod, 'github.com/andrewburian/powermux', 'v1.1.1')).toMatchObject({ status: 'edited', text: mod.replace('v1.1.0', 'v1.1.1') });
  });

  it('refuses a module the file does not require, and a fixed version that is not a module version', () => {
    expect(m.raiseFloor('go.mod', viper, 'github.com/spf13/viper', 'v1.7.0')).toMatchObject({ status: 'refused', reason: 'not-found' });
    expect(m.raiseFloor('go.mod', viper, 'github.com/gogo/protobuf', 'latest')).toMatchObject({ status: 'refused', reason: 'unsupported-requirement' });
  });
});

describe('go.mod syntax (https://go.dev/ref/mod#go-mod-file)', () => {
  const mod = [
    '// Module comment',
    'module "example.com/app"',
    '',
    'go 1.21',
    'toolchain go1.21.5',
    '',
    'require golang.org/x/text v0.3.7 // pinned for CVE',
    'require (',
    '\t// block comment',
    '\tgithub.com/gorilla/websocket v1.4.0 // indirect; needed by x',
    '',
    '\t"github.com/gogo/protobuf" "v1.2.1"',
    '\tgithub.com/hashicorp/hcl v1.0.0',
    '\tgithub.com/foo/bar/v2 v2.1.0',
    ')',
    'require ()',
    '',
    'replace github.com/hashicorp/hcl => github.com/hashicorp/hcl v1.0.1-vault',
    'replace (',
    '\tgolang.org/x/text v0.3.0 => ./third_party/text',
    ')',
    'exclude github.com/gorilla/websocket v1.4.1',
    'exclude (',
    '\tgolang.org/x/text v0.3.8',
    ')',
    'retract [v1.0.0, v1.0.5] // bad releases',
    '',
  ].join('\r\n');

  it('reads single lines, blocks, quoted strings, comments and CRLF, with directives', () => {
    const parsed = parseGoMod('go.mod', mod);
    expect(parsed.module).toBe('example.com/app');
    expect(parsed.requires.map((r) => [r.path, r.version.value, r.indirect])).toEqual([
      ['golang.org/x/text', 'v0.3.7', false],
      ['github.com/gorilla/websocket', 'v1.4.0', true],
      ['github.com/gogo/protobuf', 'v1.2.1', false],
      ['github.com/hashicorp/hcl', 'v1.0.0', false],
      ['github.com/foo/bar/v2', 'v2.1.0', false],
    ]);
    expect(parsed.replaces).toEqual([
      { path: 'github.com/hashicorp/hcl', version: null, replacement: 'github.com/hashicorp/hcl v1.0.1-vault', line: 18 },
      { path: 'golang.org/x/text', version: 'v0.3.0', replacement: './third_party/text', line: 20 },
    ]);
    expect(parsed.excludes).toEqual([
      { path: 'github.com/gorilla/websocket', version: 'v1.4.1', line: 22 },
      { path: 'golang.org/x/text', version: 'v0.3.8', line: 24 },
    ]);
  });

  it('reports a replaced module uneditable (the build uses the replacement); a replace of another version does not count', () => {
    const deps = m.extract('go.mod', mod).dependencies;
    expect(deps.find((d) => d.name === 'github.com/hashicorp/hcl')!.uneditable).toBe(
      'replaced by github.com/hashicorp/hcl v1.0.1-vault (replace directive on line 18): the build uses the replacement, not this requirement; edit the replace directive instead',
    );
    expect(deps.find((d) => d.name === 'golang.org/x/text')!.uneditable).toBeUndefined();
    const refused = m.raiseFloor('go.mod', mod, 'github.com/hashicorp/hcl', 'v1.0.2');
    expect(refused).toMatchObject({ status: 'refused', reason: 'unsupported-requirement' });
    if (refused.status === 'refused') expect(refused.message).toContain('replaced by github.com/hashicorp/hcl v1.0.1-vault');
  });

  it('never writes an excluded version', () => {
    const refused = m.raiseFloor('go.mod', mod, 'github.com/gorilla/websocket', '1.4.1');
    expect(refused).toMatchObject({ status: 'refused', reason: 'excluded' });
    if (refused.status === 'refused') expect(refused.message).toContain('v1.4.1 is excluded by go.mod (exclude directive on line 22)');
    expect(m.raiseFloor('go.mod', mod, 'golang.org/x/text', 'v0.3.8')).toMatchObject({ status: 'refused', reason: 'excluded' });
    expect(m.raiseFloor('go.mod', mod, 'golang.org/x/text', 'v0.3.9')).toMatchObject({ status: 'edited', after: 'v0.3.9' });
  });

  it('edits inside quotes and keeps CRLF, comments and // indirect byte for byte', () => {
    const edit = m.raiseFloor('go.mod', mod, 'github.com/gogo/protobuf', 'v1.3.2');
    if (edit.status !== 'edited') throw new Error(edit.status);
    expect(edit.text).toBe(spliced(mod, '"v1.2.1"', '"v1.3.2"'));
    const ws = m.raiseFloor('go.mod', mod, 'github.com/gorilla/websocket', 'v1.4.2');
    if (ws.status !== 'edited') throw new Error(ws.status);
    expect(ws.text).toBe(spliced(mod, 'v1.4.0 // indirect; needed by x\r\n', 'v1.4.2 // indirect; needed by x\r\n'));
    const single = m.raiseFloor('go.mod', mod, 'golang.org/x/text', 'v0.3.9');
    if (single.status !== 'edited') throw new Error(single.status);
    expect(single.text).toBe(spliced(mod, 'require golang.org/x/text v0.3.7 // pinned', 'require golang.org/x/text v0.3.9 // pinned'));
  });

  it('follows the major version suffix of the module path', () => {
    expect(m.raiseFloor('go.mod', mod, 'github.com/foo/bar/v2', 'v2.3.0')).toMatchObject({ status: 'edited', after: 'v2.3.0' });
    const v3 = m.raiseFloor('go.mod', mod, 'github.com/foo/bar/v2', 'v3.0.1');
    expect(v3).toMatchObject({ status: 'refused', reason: 'new-module-path' });
    if (v3.status === 'refused') expect(v3.message).toContain('is in github.com/foo/bar/v3, a new module path');
    expect(pathMajor('github.com/foo/bar')).toBeNull();
    expect(pathMajor('github.com/foo/bar/v2')).toBe(2);
    expect(pathMajor('github.com/foo/v1')).toBeNull();
    expect(pathMajor('gopkg.in/yaml.v2')).toBe(2);
    expect(pathMajor('gopkg.in/check.v1-unstable')).toBe('any');
    expect(modulePathForMajor('github.com/foo/bar/v2', 3)).toBe('github.com/foo/bar/v3');
    expect(modulePathForMajor('github.com/foo/bar', 2)).toBe('github.com/foo/bar/v2');
    expect(modulePathForMajor('gopkg.in/yaml.v2', 3)).toBe('gopkg.in/yaml.v3');
  });

  it('reports a branch name as uneditable until go mod tidy resolves it', () => {
    const d = m.extract('go.mod', 'module a.example/b\n\nrequire github.com/x/y master\n').dependencies[0]!;
    expect(d.uneditable).toBe('"master" is not a canonical module version (run go mod tidy first)');
  });

  it('names the line of malformed input', () => {
    const bad = (text: string) => thrownInvalidInput(() => m.extract('go.mod', text));
    expect(bad('module a.example/b\nrequire (\n\tgithub.com/x/y v1.0.0\n')).toMatchObject({ code: 'MANIFEST_INVALID', message: 'go.mod line 2 is not valid go.mod: the require block is not closed with ")"' });
    expect(bad('require github.com/x/y\n').message).toBe('go.mod line 1 is not valid go.mod: require needs a module path and a version');
    expect(bad('module a\nrequire "github.com/x/y v1.0.0\n').message).toContain('line 2');
    expect(bad('replace a.example/b v1.0.0\n').message).toContain('replace needs');
    expect(bad(')\n').code).toBe('MANIFEST_INVALID');
  });
});
