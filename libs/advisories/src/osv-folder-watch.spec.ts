import { cp, mkdir, mkdtemp, readFile, rename, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath } from '@remediation/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canWatchFolder, OsvDirectoryLister, type OsvDirectoryListing } from './index.js';
import { OsvFolderWatch } from './osv-folder-watch.js';

/**
 * Listings of an OSV folder that stat only the files the kernel's inotify named (decision 0030),
 * and every case in which they stat every file instead. Real files in the machine's temporary
 * folder (a local file system: the spec first checks that it can be watched).
 */
describe('OsvDirectoryLister with a folder watch', () => {
  const names = ['GHSA-27h2-hvpr-p74q.json', 'GHSA-29mw-wpgm-hmr9.json', 'GHSA-2cf5-4w76-r9qv.json'];
  let dir: string;
  let npm: string;
  const listers: OsvDirectoryLister[] = [];
  const lister = (options: ConstructorParameters<typeof OsvDirectoryLister>[1] = {}): OsvDirectoryLister => {
    const l = new OsvDirectoryLister(dir, options);
    listers.push(l);
    return l;
  };
  /** Lists and commits; returns the listing. */
  const committed = async (l: OsvDirectoryLister): Promise<OsvDirectoryListing> => {
    const listing = await l.list();
    listing.commit();
    return listing;
  };
  /** Rewrites `name` in place (same file, no rename) with `modified` changed. */
  const touchRecord = async (name: string, modified: string): Promise<void> => {
    const path = join(npm, name);
    const record = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    await writeFile(path, JSON.stringify({ ...record, modified }));
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'osv-watch-'));
    npm = join(dir, 'npm');
    await mkdir(npm);
    for (const n of names) await cp(fixturePath('osv', 'npm', n), join(npm, n));
    expect(canWatchFolder(dir)).toBe(true);
  });
  afterEach(async () => {
    for (const l of listers.splice(0)) l.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('stats only the files named since the committed listing: rewritten in place, added by rename, removed', async () => {
    const l = lister();
    expect(await committed(l)).toMatchObject({ scope: 'first', complete: true, files: { seen: 3, read: 3 } });
    expect(await committed(l)).toMatchObject({ scope: 'watched', complete: false, records: [], removed: [], files: { seen: 0, read: 0 }, folders: { read: 0 } });

    await touchRecord(names[0]!, '2099-01-01T00:00:00Z');
    const rewritten = await committed(l);
    expect(rewritten).toMatchObject({ scope: 'watched', files: { seen: 1, read: 1 }, removed: [] });
    expect(rewritten.records.map((r) => [r.id, r.modified])).toEqual([['GHSA-27h2-hvpr-p74q', '2099-01-01T00:00:00Z']]);

    // A new record written beside and renamed into place (how sync tools write), and a record removed.
    const added = JSON.stringify({ id: 'GHSA-new0-0000-0000', modified: '2099-02-01T00:00:00Z' });
    await writeFile(join(npm, 'incoming.tmp'), added);
    await rename(join(npm, 'incoming.tmp'), join(npm, 'GHSA-new0-0000-0000.json'));
    await unlink(join(npm, names[1]!));
    const changed = await committed(l);
    expect(changed).toMatchObject({ scope: 'watched', files: { seen: 2, read: 1 }, removed: ['GHSA-29mw-wpgm-hmr9'] });
    expect(changed.records.map((r) => r.id)).toEqual(['GHSA-new0-0000-0000']);

    // The removed file back again: read, and nothing removed.
    await cp(fixturePath('osv', 'npm', names[1]!), join(npm, names[1]!));
    const back = await committed(l);
    expect(back).toMatchObject({ scope: 'watched', files: { seen: 1, read: 1 }, removed: [] });
    expect(back.records.map((r) => r.id)).toEqual(['GHSA-29mw-wpgm-hmr9']);

    // A listing of every file afterwards agrees with what the watched ones built.
    const all = await new OsvDirectoryLister(dir, { watch: false }).list();
    expect(all.records.map((r) => r.id).sort()).toEqual(['GHSA-27h2-hvpr-p74q', 'GHSA-29mw-wpgm-hmr9', 'GHSA-2cf5-4w76-r9qv', 'GHSA-new0-0000-0000']);
  });

  it('a file whose id changed names the old id as removed', async () => {
    const l = lister();
    await committed(l);
    const path = join(npm, names[2]!);
    const record = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    await writeFile(path, JSON.stringify({ ...record, id: 'GHSA-renamed-id' }));
    const listing = await committed(l);
    expect(listing).toMatchObject({ scope: 'watched', removed: ['GHSA-2cf5-4w76-r9qv'] });
    expect(listing.records.map((r) => r.id)).toEqual(['GHSA-renamed-id']);
  });

  it('a listing not committed (the import failed) leaves its files to the next one', async () => {
    const l = lister();
    await committed(l);
    await touchRecord(names[0]!, '2099-01-01T00:00:00Z');
    expect((await l.list()).files).toEqual({ seen: 1, read: 1 }); // not committed
    await touchRecord(names[1]!, '2099-01-01T00:00:00Z');
    const next = await committed(l);
    expect(next).toMatchObject({ scope: 'watched', files: { seen: 2, read: 2 } });
    expect(next.records.map((r) => r.id)).toEqual(['GHSA-27h2-hvpr-p74q', 'GHSA-29mw-wpgm-hmr9']);
    expect(await l.list()).toMatchObject({ scope: 'watched', files: { seen: 0, read: 0 } });
  });

  it('a new subfolder makes the next listing stat every file, and is watched from then on', async () => {
    const l = lister();
    await committed(l);
    await mkdir(join(dir, 'PyPI'));
    expect(await committed(l)).toMatchObject({ scope: 'folders', files: { seen: 3, read: 0 }, folders: { seen: 3 } });
    await writeFile(join(dir, 'PyPI', 'PYSEC-2099-1.json'), JSON.stringify({ id: 'PYSEC-2099-1', modified: '2099-01-01T00:00:00Z' }));
    const listing = await committed(l);
    expect(listing).toMatchObject({ scope: 'watched', files: { seen: 1, read: 1 } });
    expect(listing.records.map((r) => r.id)).toEqual(['PYSEC-2099-1']);
  });

  it('a subfolder whose times changed (rsync -a) or a new top-level file that is not JSON leaves the listing watched', async () => {
    const l = lister();
    await committed(l);
    await utimes(npm, new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
    await writeFile(join(dir, 'README.md'), 'mirror of OSV');
    await touchRecord(names[0]!, '2099-01-01T00:00:00Z');
    const listing = await committed(l);
    expect(listing).toMatchObject({ scope: 'watched', files: { seen: 1, read: 1 } });
  });

  it('a subfolder removed and made again under the same name is another folder: every file is stat\'ed', async () => {
    const l = lister();
    await committed(l);
    await rm(npm, { recursive: true });
    await mkdir(npm);
    await cp(fixturePath('osv', 'npm', names[0]!), join(npm, names[0]!));
    const listing = await committed(l);
    expect(listing).toMatchObject({ scope: 'folders', files: { seen: 1, read: 1 } });
    expect(listing.removed).toEqual(['GHSA-29mw-wpgm-hmr9', 'GHSA-2cf5-4w76-r9qv']);
  });

  it('a symlinked directory swapped to another target: every file of the new one is stat\'ed', async () => {
    const other = await mkdtemp(join(tmpdir(), 'osv-watch-other-'));
    const link = join(tmpdir(), `osv-watch-link-${process.pid}-${Date.now()}`);
    try {
      await mkdir(join(other, 'npm'));
      await cp(fixturePath('osv', 'npm', names[2]!), join(other, 'npm', names[2]!));
      await symlink(dir, link);
      const l = new OsvDirectoryLister(link);
      listers.push(l);
      await committed(l);
      // Swapped as deployment tools do: a new link renamed over the old one.
      await symlink(other, `${link}.new`);
      await rename(`${link}.new`, link);
      const listing = await committed(l);
      expect(listing).toMatchObject({ scope: 'folders', files: { seen: 1, read: 1 } }); // the same path, another file
      expect(listing.removed).toEqual(['GHSA-27h2-hvpr-p74q', 'GHSA-29mw-wpgm-hmr9']);
      // The new target is watched from then on.
      await writeFile(join(other, 'npm', 'GHSA-new1-0000-0000.json'), JSON.stringify({ id: 'GHSA-new1-0000-0000', modified: '2099-01-01T00:00:00Z' }));
      expect(await committed(l)).toMatchObject({ scope: 'watched', files: { seen: 1, read: 1 } });
    } finally {
      await rm(link, { force: true });
      await rm(other, { recursive: true, force: true });
    }
  });

  it('a top-level symlink to a JSON file is not listed, watched or not', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'osv-watch-outside-'));
    try {
      await writeFile(join(outside, 'L-1.json'), JSON.stringify({ id: 'L-1', modified: '2099-01-01T00:00:00Z' }));
      const l = lister();
      await committed(l);
      await symlink(join(outside, 'L-1.json'), join(dir, 'L-1.json'));
      expect(await committed(l)).toMatchObject({ scope: 'watched', records: [], files: { seen: 1, read: 0 } });
      expect((await new OsvDirectoryLister(dir, { watch: false }).list()).records.map((r) => r.id)).not.toContain('L-1');
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('a late commit of an earlier listing is ignored: the base never moves back', async () => {
    const l = lister();
    await committed(l);
    const earlier = await l.list();
    await touchRecord(names[0]!, '2099-01-01T00:00:00Z');
    const later = await l.list();
    expect(later.files).toEqual({ seen: 1, read: 1 });
    later.commit();
    earlier.commit();
    expect(await l.list()).toMatchObject({ scope: 'watched', files: { seen: 0, read: 0 } });
    // A listing of every file compares with the later listing's stats: the rewritten file is not read again.
    l.close();
    expect(await l.list()).toMatchObject({ scope: 'restarted', files: { seen: 3, read: 0 } });
  });

  it('stats every file after as many events as the kernel may have dropped some of', async () => {
    const l = lister({ watchOverflowAt: 3 });
    await committed(l);
    await touchRecord(names[0]!, '2099-01-01T00:00:00Z'); // truncate and write: two events
    await touchRecord(names[1]!, '2099-01-01T00:00:00Z');
    const listing = await committed(l);
    expect(listing).toMatchObject({ scope: 'overflow', files: { seen: 3, read: 2 } });
    expect(await committed(l)).toMatchObject({ scope: 'watched', files: { seen: 0 } });
  });

  it('stats every file once the last such listing is older than fullListingMs', async () => {
    const l = lister({ fullListingMs: 0 });
    await committed(l);
    expect(await committed(l)).toMatchObject({ scope: 'expired', files: { seen: 3, read: 0 } });
  });

  it('after a listing of every file that was not committed, the next one stats every file too', async () => {
    const l = lister({ watchOverflowAt: 1 });
    await committed(l);
    await touchRecord(names[0]!, '2099-01-01T00:00:00Z');
    expect((await l.list()).scope).toBe('overflow'); // restarts the watch; not committed
    expect(await committed(l)).toMatchObject({ scope: 'restarted', files: { seen: 3, read: 1 } });
  });

  it('after close, the next listing stats every file and watches again', async () => {
    const l = lister();
    await committed(l);
    l.close();
    await touchRecord(names[0]!, '2099-01-01T00:00:00Z');
    expect(await committed(l)).toMatchObject({ scope: 'restarted', files: { seen: 3, read: 1 } });
    await touchRecord(names[1]!, '2099-01-01T00:00:00Z');
    expect(await committed(l)).toMatchObject({ scope: 'watched', files: { seen: 1, read: 1 } });
  });

  it('without a watch every later listing stats every file', async () => {
    const l = lister({ watch: false });
    await committed(l);
    await touchRecord(names[0]!, '2099-01-01T00:00:00Z');
    expect(await committed(l)).toMatchObject({ scope: 'off', files: { seen: 3, read: 1 } });
  });
});

describe('OsvFolderWatch', () => {
  it('records a folder it cannot watch as failed instead of throwing', () => {
    const watch = new OsvFolderWatch();
    watch.add(join(tmpdir(), 'osv-watch-missing-folder', 'npm'), false);
    expect(watch.take().failed).toMatch(/cannot watch .*osv-watch-missing-folder.*ENOENT/);
    expect(watch.take().failed).toBeUndefined();
    watch.close();
  });

  it('the watched top folder replaced by another: the next listing stats every file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'osv-watch-failed-'));
    try {
      await writeFile(join(dir, 'A-1.json'), JSON.stringify({ id: 'A-1', modified: '2024-01-01T00:00:00Z' }));
      const l = new OsvDirectoryLister(dir);
      (await l.list()).commit();
      // The watched top folder replaced by another one: its watch now points at a deleted folder.
      await rm(dir, { recursive: true });
      await mkdir(dir);
      await writeFile(join(dir, 'A-1.json'), JSON.stringify({ id: 'A-1', modified: '2099-01-01T00:00:00Z' }));
      const listing = await l.list();
      expect(listing.scope).toBe('folders'); // the old folder's own deletion, named by its name
      expect(listing.files).toEqual({ seen: 1, read: 1 });
      l.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
