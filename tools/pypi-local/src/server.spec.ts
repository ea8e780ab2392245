import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '@remediation/testing';
import { startPypiLocal, type PypiLocal } from './server.js';

describe('pypi-local', () => {
  let index: PypiLocal;
  beforeAll(async () => {
    index = await startPypiLocal({ dir: fixturePath('registry/pypi') });
  });
  afterAll(() => index.close());

  it('serves the JSON API project document', async () => {
    const res = await fetch(`${index.url}/pypi/Werkzeug/json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { info: { name: string }; releases: Record<string, Array<{ filename: string; yanked: boolean }>> };
    expect(doc.info.name).toBe('werkzeug');
    expect(doc.releases['2.3.8']).toEqual([expect.objectContaining({ filename: 'werkzeug-2.3.8.tar.gz', yanked: false })]);
  });

  it('serves the Simple API in JSON (PEP 691, PEP 700 versions) and redirects non-normalised names (PEP 503)', async () => {
    const root = await fetch(`${index.url}/simple/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
    expect(root.headers.get('content-type')).toBe('application/vnd.pypi.simple.v1+json');
    expect(((await root.json()) as { projects: Array<{ name: string }> }).projects.map((p) => p.name)).toContain('python-docx');
    const redirect = await fetch(`${index.url}/simple/Python_Docx/`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/simple/python-docx/');
    const page = (await (await fetch(`${index.url}/simple/Python_Docx/`)).json()) as { meta: { 'api-version': string }; name: string; versions: string[] };
    expect(page.meta['api-version']).toBe('1.1');
    expect(page.name).toBe('python-docx');
    expect(page.versions).toContain('0.8.6');
  });

  it('answers 404 for unknown packages and paths', async () => {
    expect((await fetch(`${index.url}/pypi/six/json`)).status).toBe(404);
    expect((await fetch(`${index.url}/simple/six/`)).status).toBe(404);
    expect((await fetch(`${index.url}/nothing`)).status).toBe(404);
  });
});
