// MavenRepositorySource of @remediation/ecosystems against this server (kept here: the lib must not depend on a tool).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError, TransientError } from '@remediation/errors';
import { fixturePath } from '@remediation/testing';
import { MavenRepositorySource, mavenVersioning, parseMavenRepositories } from '@remediation/ecosystems';
import { startMavenLocal, type MavenLocal } from './server.js';

const fast = { minRetryDelayMs: 1, maxRetryDelayMs: 5 };
const LOG4J = 'org.apache.logging.log4j:log4j-core';

function metadata(group: string, artifact: string, versions: string[], release?: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<metadata>\n  <groupId>${group}</groupId>\n  <artifactId>${artifact}</artifactId>\n  <versioning>\n${release ? `    <release>${release}</release>\n` : ''}    <versions>\n${versions.map((v) => `      <version>${v}</version>\n`).join('')}    </versions>\n  </versioning>\n</metadata>\n`;
}

describe('maven-local and MavenRepositorySource', () => {
  let central: MavenLocal;
  let dir: string;
  beforeAll(async () => {
    central = await startMavenLocal({ dir: fixturePath('registry/maven') });
    dir = mkdtempSync(join(tmpdir(), 'maven-local-'));
    mkdirSync(join(dir, 'org/apache/logging/log4j/log4j-core'), { recursive: true });
    // An in-house rebuild only the private repository has, and a version both have.
    writeFileSync(join(dir, 'org/apache/logging/log4j/log4j-core/maven-metadata.xml'), metadata('org.apache.logging.log4j', 'log4j-core', ['2.17.1', '2.17.1-acme-1', '2.17.2-SNAPSHOT'], '2.17.1-acme-1'));
  });
  afterAll(async () => {
    await central.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves maven-metadata.xml at the layout path only', async () => {
    const res = await fetch(`${central.url}/org/apache/logging/log4j/log4j-core/maven-metadata.xml`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/xml');
    expect(await res.text()).toContain('<version>2.17.1</version>');
    expect((await fetch(`${central.url}/org/apache/logging/log4j/log4j-core/2.17.1/log4j-core-2.17.1.jar`)).status).toBe(404);
    expect((await fetch(`${central.url}/org/../../etc/maven-metadata.xml`)).status).toBe(404);
  });

  it('reads the real version lists in ComparableVersion order; candidates drop pre-releases', async () => {
    const source = new MavenRepositorySource({ repositories: [{ url: `${central.url}/` }], ...fast });
    expect(source.label).toBe(central.url);
    const log4j = await source.releases(LOG4J);
    const versions = log4j.versions.map((v) => v.version);
    expect(versions.slice(0, 3)).toEqual(['2.0-beta7', '2.0', '2.3.1']);
    expect(versions).toEqual(expect.arrayContaining(['2.12.2', '2.15.0', '2.16.0', '2.17.0', '2.17.1']));
    expect([...versions].sort(mavenVersioning.compare)).toEqual(versions);
    expect(log4j.latest).toBe('2.17.1');
    expect(mavenVersioning.candidates(log4j.versions)).not.toContain('2.0-beta7');
    expect(central.requests.at(-1)?.path).toBe('/org/apache/logging/log4j/log4j-core/maven-metadata.xml');
  });

  it('merges several repositories, each with its own credentials; the first that answers gives latest', async () => {
    const nexus = await startMavenLocal({ dir, authorization: `Basic ${Buffer.from('ci:s3cret').toString('base64')}` });
    const artifactory = await startMavenLocal({ dir: fixturePath('registry/maven'), authorization: 'Bearer tok' });
    try {
      const repos = parseMavenRepositories(`${nexus.url.replace('//', '//ci:s3cret@')}, ${artifactory.url}`, { kind: 'bearer', token: 'unused-first-has-own' });
      expect(repos).toEqual([{ url: nexus.url, credentials: { kind: 'basic', username: 'ci', password: 's3cret' } }, { url: artifactory.url }]);
      const source = new MavenRepositorySource({ repositories: [repos[0]!, { url: artifactory.url, credentials: { kind: 'bearer', token: 'tok' } }], ...fast });
      const log4j = await source.releases(LOG4J);
      const versions = log4j.versions.map((v) => v.version);
      expect(versions).toContain('2.17.1-acme-1');
      expect(versions).toContain('2.14.1');
      expect(versions.filter((v) => v === '2.17.1')).toHaveLength(1);
      expect(log4j.latest).toBe('2.17.1-acme-1');
      expect(log4j.source).toBe(`${nexus.url},${artifactory.url}`);
      expect(artifactory.requests.at(-1)?.authorization).toBe('Bearer tok');
      // Only the second repository has struts2-core: a 404 in the first is "not here".
      expect((await source.releases('org.apache.struts:struts2-core')).versions.map((v) => v.version)).toContain('2.3.32');
      // Wrong credentials everywhere: the 401 is reported, the password is not.
      const wrong = new MavenRepositorySource({ repositories: [{ url: nexus.url, credentials: { kind: 'basic', username: 'ci', password: 'nope' } }], ...fast });
      const err = await wrong.releases(LOG4J).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransientError);
      expect((err as Error).message).toMatch(/answered 401 .*credentials/);
      expect((err as Error).message).not.toContain('nope');
    } finally {
      await nexus.close();
      await artifactory.close();
    }
  });

  it('passes over an unavailable repository when another answers; fails when none does', async () => {
    const down = await startMavenLocal({ dir });
    try {
      const source = new MavenRepositorySource({ repositories: [{ url: down.url }, { url: central.url }], retries: 1, ...fast });
      down.failNext('/org/', 503, 2);
      expect((await source.releases(LOG4J)).source).toBe(central.url);
      down.failNext('/org/', 503, 2);
      const alone = new MavenRepositorySource({ repositories: [{ url: down.url }], retries: 1, ...fast });
      await expect(alone.releases(LOG4J)).rejects.toMatchObject({ code: 'REGISTRY_UNAVAILABLE', details: { attempts: 2, status: 503 } });
    } finally {
      await down.close();
    }
  });

  it('reports unknown artifacts, bad names and bad documents', async () => {
    const source = new MavenRepositorySource({ repositories: [{ url: central.url }], ...fast });
    const before = central.requests.length;
    await expect(source.releases('org.example:nothing')).rejects.toMatchObject({ code: 'PACKAGE_NOT_FOUND' });
    await expect(source.releases('log4j-core')).rejects.toBeInstanceOf(InvalidInputError);
    await expect(source.releases('../etc:passwd')).rejects.toMatchObject({ code: 'PACKAGE_NAME_INVALID' });
    expect(central.requests.length - before).toBe(1);
    const bad = await startMavenLocal({ dir });
    try {
      writeFileSync(join(dir, 'org/apache/logging/log4j/log4j-core/maven-metadata.xml'), metadata('org.other', 'thing', ['1.0']));
      await expect(new MavenRepositorySource({ repositories: [{ url: bad.url }], ...fast }).releases(LOG4J)).rejects.toMatchObject({ code: 'REGISTRY_DOCUMENT_INVALID' });
    } finally {
      await bad.close();
    }
    expect(() => parseMavenRepositories('ftp://example.org/repo')).toThrow(/http\(s\)/);
    expect(() => parseMavenRepositories(' , ')).toThrow(/no repository/);
  });
});
