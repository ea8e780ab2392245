import { describe, expect, it } from 'vitest';
import { startLocalRegistry } from './server.js';

describe('startLocalRegistry', () => {
  it('records requests, injects faults, requires credentials when asked and passes the rest to the handler', async () => {
    const server = await startLocalRegistry({ authorization: 'Bearer t', wwwAuthenticate: 'Bearer realm="x"' }, async (path, { url }) => {
      if (path === '/boom') throw new Error('handler failed');
      return { status: 200, body: `${url}${path}`, contentType: 'text/x-test' };
    });
    try {
      const auth = { headers: { authorization: 'Bearer t' } };
      const ok = await fetch(`${server.url}/a/b?q=1`, auth);
      expect([ok.status, ok.headers.get('content-type'), await ok.text()]).toEqual([200, 'text/x-test', `${server.url}/a/b`]);
      const denied = await fetch(`${server.url}/a`);
      expect([denied.status, denied.headers.get('www-authenticate')]).toEqual([401, 'Bearer realm="x"']);
      expect((await fetch(`${server.url}/a`, { ...auth, method: 'POST' })).status).toBe(405);
      server.failNext('/a', 503, 2);
      expect([(await fetch(`${server.url}/a/1`, auth)).status, (await fetch(`${server.url}/a/2`, auth)).status, (await fetch(`${server.url}/a/3`, auth)).status]).toEqual([503, 503, 200]);
      const boom = await fetch(`${server.url}/boom`, auth);
      expect([boom.status, await boom.text()]).toEqual([500, 'handler failed']);
      expect(server.requests.map((r) => `${r.method} ${r.path} ${r.status} ${r.authorization ?? '-'}`)).toEqual([
        'GET /a/b?q=1 200 Bearer t',
        'GET /a 401 -',
        'POST /a 405 Bearer t',
        'GET /a/1 503 Bearer t',
        'GET /a/2 503 Bearer t',
        'GET /a/3 200 Bearer t',
        'GET /boom 500 Bearer t',
      ]);
    } finally {
      await server.close();
    }
  });
});
