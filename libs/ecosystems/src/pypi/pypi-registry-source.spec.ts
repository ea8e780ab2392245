import { describe, expect, it } from 'vitest';
import { fromJsonApi, fromSimpleApi, versionOfFilename } from './pypi-registry-source.js';

// The source against a server (both APIs, yanked, credentials, 404, retries) is specified in
// tools/pypi-local/src/pypi-registry-source.spec.ts.
describe('versionOfFilename', () => {
  it.each([
    ['Django-4.2.14-py3-none-any.whl', '4.2.14'],
    ['django-4.2.14.tar.gz', '4.2.14'],
    ['python-docx-0.8.5.tar.gz', '0.8.5'],
    ['pkg-1.0-1-cp312-cp312-manylinux_2_17_x86_64.whl', '1.0'],
    ['README', undefined],
  ])('%s → %s', (filename, version) => {
    expect(versionOfFilename(filename)).toBe(version);
  });
});

describe('fromJsonApi / fromSimpleApi', () => {
  it('counts a version yanked only when every file is yanked (PEP 592), and keeps the earliest upload', () => {
    const body = {
      releases: {
        '1.0': [
          { yanked: true, yanked_reason: 'bad wheel', upload_time_iso_8601: '2020-01-02T00:00:00Z' },
          { yanked: false, upload_time_iso_8601: '2020-01-01T00:00:00Z', requires_python: '>=3.6' },
        ],
        '1.1': [{ yanked: true, yanked_reason: '' }],
        '0.9': [],
        'not a version': [],
      },
    };
    expect(fromJsonApi('x', body, 'u')).toEqual([
      { version: '0.9', yanked: false, deprecated: false },
      { version: '1.0', yanked: false, deprecated: false, releasedAt: '2020-01-01T00:00:00Z', requiresPython: '>=3.6' },
      { version: '1.1', yanked: true, deprecated: false },
    ]);
  });

  it('reads versions from file names and PEP 700 versions in the Simple API', () => {
    const body = {
      meta: { 'api-version': '1.1' },
      versions: ['1.0', '2.0'],
      files: [
        { filename: 'x-1.0.tar.gz', yanked: 'security', hashes: {} },
        { filename: 'x-1.0-py3-none-any.whl', yanked: true, hashes: {}, 'upload-time': '2021-05-05T00:00:00Z' },
      ],
    };
    expect(fromSimpleApi('x', body, 'u')).toEqual([
      { version: '1.0', yanked: true, yankedReason: 'security', deprecated: false, releasedAt: '2021-05-05T00:00:00Z' },
      { version: '2.0', yanked: false, deprecated: false },
    ]);
  });

  it('rejects documents of another shape with REGISTRY_DOCUMENT_INVALID', () => {
    expect(() => fromJsonApi('x', {}, 'http://i/pypi/x/json')).toThrow(/http:\/\/i\/pypi\/x\/json is not a PyPI JSON API document for x/);
    expect(() => fromJsonApi('x', { releases: { '1.0': 'no' } }, 'u')).toThrow(expect.objectContaining({ code: 'REGISTRY_DOCUMENT_INVALID' }));
    expect(() => fromSimpleApi('x', { files: 'x' }, 'u')).toThrow(expect.objectContaining({ code: 'REGISTRY_DOCUMENT_INVALID' }));
    expect(() => fromSimpleApi('x', null, 'u')).toThrow(/Simple API \(PEP 691\)/);
  });
});
