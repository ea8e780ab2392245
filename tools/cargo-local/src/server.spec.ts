import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '@remediation/testing';
import { startCargoLocal, type CargoLocal } from './server.js';

describe('cargo-local', () => {
  let index: CargoLocal;
  beforeAll(async () => {
    index = await startCargoLocal({ dir: fixturePath('registry/cargo') });
  });
  afterAll(() => index.close());

  it('serves config.json pointing at itself', async () => {
    const res = await fetch(`${index.url}/config.json`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ dl: `${index.url}/api/v1/crates`, api: index.url });
  });

  it('serves index files at their index path only, as newline-delimited JSON', async () => {
    const res = await fetch(`${index.url}/to/ki/tokio`);
    expect(res.status).toBe(200);
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as { name: string; vers: string; yanked: boolean });
    expect(lines.map((l) => l.vers)).toContain('1.13.1');
    expect(lines.every((l) => l.name === 'tokio' && l.yanked === false)).toBe(true);
    expect((await fetch(`${index.url}/tokio`)).status).toBe(404);
    expect((await fetch(`${index.url}/to/ki/TOKIO`)).status).toBe(404);
    expect((await fetch(`${index.url}/se/rd/serde`)).status).toBe(404);
  });
});
