import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ManifestEditError } from '../errors.js';
import { restoreNpmOverride, setNpmOverride } from './overrides.js';

/** A real project's package.json from __fixtures__/manifests (sources: __fixtures__/PROVENANCE.md). */
const manifest = (name: string): string => readFileSync(new URL(`./__fixtures__/manifests/${name}/package.json`, import.meta.url), 'utf8');

describe('setNpmOverride (npm "overrides", https://docs.npmjs.com/cli/v10/configuring-npm/package-json#overrides)', () => {
  it('adds the field at the end of a real package.json, every other byte kept, in its indentation', () => {
    const text = manifest('express-4.19.2');
    const r = setNpmOverride(text, 'side-channel', '1.0.6');
    expect(r).toMatchObject({ changed: true, from: null, to: '1.0.6' });
    expect(JSON.parse(r.text)).toEqual({ ...JSON.parse(text), overrides: { 'side-channel': '1.0.6' } });
    const cut = text.lastIndexOf('\n}');
    expect(r.text.slice(0, cut)).toBe(text.slice(0, cut));
    expect(r.text.slice(cut)).toBe(',\n  "overrides": {\n    "side-channel": "1.0.6"\n  }\n}' + text.slice(cut + 2));
  });

  it('sets an existing entry, or the "." of a nested one, and keeps tabs and CRLF', () => {
    const tabs = '{\r\n\t"name": "app",\r\n\t"overrides": {\r\n\t\t"qs": "6.5.2",\r\n\t\t"foo": { ".": "1.0.0", "bar": "2.0.0" }\r\n\t}\r\n}\r\n';
    const a = setNpmOverride(tabs, 'qs', '6.5.3');
    expect(a).toMatchObject({ changed: true, from: '6.5.2', to: '6.5.3' });
    expect(a.text).toBe(tabs.replace('"qs": "6.5.2"', '"qs": "6.5.3"'));
    const b = setNpmOverride(tabs, 'foo', '1.0.1');
    expect(b.text).toBe(tabs.replace('".": "1.0.0"', '".": "1.0.1"'));
    const c = setNpmOverride(tabs, 'cookie', '0.7.0');
    expect(c.text).toBe(tabs.replace('"foo": { ".": "1.0.0", "bar": "2.0.0" }\r\n', '"foo": { ".": "1.0.0", "bar": "2.0.0" },\r\n\t\t"cookie": "0.7.0"\r\n'));
    expect(setNpmOverride(a.text, 'qs', '6.5.3')).toMatchObject({ changed: false, text: a.text });
  });

  it('refuses an override a direct declaration excludes (npm: EOVERRIDE), a bad version and a non-object field', () => {
    const text = manifest('express-4.19.2');
    const err = (() => {
      try {
        setNpmOverride(text, 'cookie', '0.7.0'); // express 4.19.2 declares cookie 0.6.0
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(ManifestEditError);
    expect(err).toMatchObject({ code: 'OVERRIDE_CONFLICT' });
    expect((err as Error).message).toContain('cookie is also declared in dependencies as "0.6.0"');
    expect(setNpmOverride('{ "dependencies": { "cookie": "^0.7.0" } }', 'cookie', '0.7.2').changed).toBe(true);
    expect(() => setNpmOverride('{ "overrides": [] }', 'cookie', '0.7.0')).toThrow(/"overrides" is not an object/);
    expect(() => setNpmOverride('{}', 'cookie', '^0.7.0')).toThrow(ManifestEditError);
  });
});

describe('restoreNpmOverride', () => {
  it('removes an added field, puts back an entry, and leaves an untouched one', () => {
    const original = '{\n  "name": "app",\n  "overrides": {\n    "qs": "6.5.2"\n  }\n}\n';
    const added = setNpmOverride(original, 'cookie', '0.7.0').text;
    expect(restoreNpmOverride(added, original, 'cookie')).toEqual({ text: original, restored: true });
    const changed = setNpmOverride(original, 'qs', '6.5.3').text;
    expect(restoreNpmOverride(changed, original, 'qs')).toEqual({ text: original, restored: true });
    const bare = '{\n  "name": "app"\n}\n';
    expect(restoreNpmOverride(setNpmOverride(bare, 'cookie', '0.7.0').text, bare, 'cookie')).toEqual({ text: bare, restored: true });
    expect(restoreNpmOverride(original, original, 'qs')).toEqual({ text: original, restored: false });
  });
});
