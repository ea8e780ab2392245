import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { fetchOsvArchive, fetchOsvModifiedSince, readZipEntries } from '@remediation/advisories';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOsvLocal, withZip64End, type OsvLocal } from './index.js';

/** osv-local's archives: ZIP64 end records beyond 65,535 entries; all.zip served with validators. */
describe('osv-local archives', () => {
  it('adds ZIP64 end records to an archive of more than 65,535 entries, which two readers then read whole', () => {
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 66_000; i++) files[`R-${i}.json`] = new TextEncoder().encode(`{"i":${i}}`);
    const plain = zipSync(files, { level: 0 });
    const zip64 = withZip64End(plain, 66_000);
    const view = new DataView(zip64.buffer);
    expect(view.getUint16(zip64.byteLength - 22 + 10, true)).toBe(0xffff);
    expect(view.getUint32(zip64.byteLength - 22 - 20, true)).toBe(0x07064b50);
    expect(Object.keys(unzipSync(zip64))).toHaveLength(66_000); // fflate reads the ZIP64 end record
    expect(readZipEntries(zip64, 'zip64.zip', () => undefined)).toBe(66_000);
    // Small archives are left as fflate writes them.
    const small = zipSync({ 'a.json': new Uint8Array([123, 125]) });
    expect(withZip64End(small, 1)).toBe(small);
  });

  describe('served all.zip', () => {
    let dir: string;
    let osv: OsvLocal;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'osv-local-'));
      await mkdir(join(dir, 'npm'));
      for (const id of ['A-1', 'A-2']) await writeFile(join(dir, 'npm', `${id}.json`), JSON.stringify({ id, modified: '2024-01-01T00:00:00Z' }));
      osv = await startOsvLocal({ dir });
    });
    afterAll(async () => {
      await osv.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('lists every record; a conditional request with its ETag is answered 304', async () => {
      const first = await fetchOsvArchive(`${osv.url}/npm/all.zip`, {});
      expect(first.status === 'ok' && first.records.map((r) => r.id)).toEqual(['A-1', 'A-2']);
      const again = await fetchOsvArchive(`${osv.url}/npm/all.zip`, first.status === 'ok' ? first.validators : {});
      expect(again.status).toBe('not-modified');
    });

    it("serves a folder's own modified_id.csv as written and each <id>.json from its file, which fetchOsvModifiedSince reads up to `since`", async () => {
      await mkdir(join(dir, 'PyPI'));
      await writeFile(join(dir, 'PyPI', 'B-2.json'), JSON.stringify({ id: 'B-2', modified: '2024-03-01T00:00:00Z' }));
      await writeFile(join(dir, 'PyPI', 'other-name.json'), JSON.stringify({ id: 'B-1', modified: '2024-02-01T00:00:00Z' }));
      // Not what the records say (B-2 would come first): proves the file is served, not a list built from the records.
      const list = '2024-03-01T00:00:00Z,B-1\n2024-02-01T00:00:00Z,B-2\n2023-01-01T00:00:00Z,B-0\n';
      await writeFile(join(dir, 'PyPI', 'modified_id.csv'), list);
      expect(await (await fetch(`${osv.url}/PyPI/modified_id.csv`)).text()).toBe(list);
      const changed = await fetchOsvModifiedSince(osv.url, 'PyPI', '2024-02-01T00:00:00Z');
      expect(changed.status === 'ok' && changed.records.map((r) => [r.id, r.where])).toEqual([
        ['B-1', `${osv.url}/PyPI/B-1.json`], // no file B-1.json: found by scanning the folder
        ['B-2', `${osv.url}/PyPI/B-2.json`],
      ]);
      expect((await fetch(`${osv.url}/PyPI/B-0.json`)).status).toBe(404);
      // Without a written list, one is built from the records (newest first).
      expect(await (await fetch(`${osv.url}/npm/modified_id.csv`)).text()).toBe('2024-01-01T00:00:00.000Z,A-1\n2024-01-01T00:00:00.000Z,A-2\n');
    });
  });
});
