import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '@remediation/testing';
import { startGoProxyLocal, type GoProxyLocal } from './server.js';

describe('go-proxy-local', () => {
  let proxy: GoProxyLocal;
  beforeAll(async () => {
    proxy = await startGoProxyLocal({ dir: fixturePath('registry/go') });
  });
  afterAll(() => proxy.close());

  it('serves @v/list at the case-encoded module path, as text', async () => {
    const res = await fetch(`${proxy.url}/golang.org/x/net/@v/list`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect((await res.text()).trim().split('\n')).toEqual(expect.arrayContaining(['v0.4.0', 'v0.56.0']));
    expect((await fetch(`${proxy.url}/github.com/!andrew!burian/powermux/@v/list`)).status).toBe(200);
  });

  it('answers 400 to paths that are not case-encoded module paths, 404 to unknown modules and files', async () => {
    expect((await fetch(`${proxy.url}/github.com/AndrewBurian/powermux/@v/list`)).status).toBe(400);
    expect((await fetch(`${proxy.url}/github.com/!!x/y/@v/list`)).status).toBe(400);
    expect((await fetch(`${proxy.url}/fmt/@v/list`)).status).toBe(400);
    expect((await fetch(`${proxy.url}/github.com/no/such/@v/list`)).status).toBe(404);
    expect((await fetch(`${proxy.url}/golang.org/x/net/@v/v0.4.0.zip`)).status).toBe(404);
    expect((await fetch(`${proxy.url}/golang.org/x/net/@latest`)).status).toBe(404);
    expect(proxy.requests.at(-1)).toMatchObject({ method: 'GET', path: '/golang.org/x/net/@latest', status: 404 });
  });
});
