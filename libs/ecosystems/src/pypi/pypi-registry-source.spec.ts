import { describe, expect, it } from 'vitest';
import { versionOfFilename } from './pypi-registry-source.js';

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
