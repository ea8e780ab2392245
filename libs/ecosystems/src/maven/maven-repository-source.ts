import { InvalidInputError, TransientError } from '@remediation/errors';
import { type RegistryHttpOptions, fetchRegistryJson } from '@remediation/registry';
import { XMLParser } from 'fast-xml-parser';
import type { PackageReleases, PublishedVersion, RegistryCredentials, RegistrySource, RegistrySourceOptions } from '../types.js';
import { compareMavenVersions, isMavenVersion } from './versioning.js';

const PART = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * Whether `name` is Maven coordinates `groupId:artifactId` (the form OSV uses for Maven packages,
 * https://ossf.github.io/osv-schema/#affectedpackage-field): letters, digits, `_`, `.` and `-` in
 * each part (Maven's own id pattern, https://maven.apache.org/pom.html#maven-coordinates), no `..`.
 */
export function isMavenName(name: string): boolean {
  const parts = name.split(':');
  return parts.length === 2 && parts.every((p) => PART.test(p) && !p.includes('..'));
}

/**
 * Path of an artifact's metadata in the Maven repository layout
 * (https://maven.apache.org/repositories/layout.html, https://maven.apache.org/repositories/metadata.html):
 * `<groupId with dots as slashes>/<artifactId>/maven-metadata.xml`.
 * @throws InvalidInputError `PACKAGE_NAME_INVALID` when `name` is not `groupId:artifactId`.
 */
export function mavenMetadataPath(name: string): string {
  if (!isMavenName(name)) throw new InvalidInputError('PACKAGE_NAME_INVALID', `not Maven coordinates groupId:artifactId: ${JSON.stringify(name)}`, { details: { name } });
  const [group, artifact] = name.split(':') as [string, string];
  return `${group.split('.').join('/')}/${artifact}/maven-metadata.xml`;
}

const xml = new XMLParser({ ignoreAttributes: true, parseTagValue: false, isArray: (name) => name === 'version' });

/**
 * The versions of a `maven-metadata.xml` (groupId/artifactId level: `<metadata>` with
 * `<versioning><versions><version>…`, `<release>`, `<latest>`;
 * https://maven.apache.org/ref/3.9.9/maven-repository-metadata/repository-metadata.html).
 * Versions this module cannot read are dropped; ascending by ComparableVersion; none yanked (the
 * layout has no such notion).
 * @throws InvalidInputError `REGISTRY_DOCUMENT_INVALID` when it is not such a document or names another artifact.
 */
export function fromMavenMetadata(name: string, text: string, url: string): { versions: PublishedVersion[]; release?: string } {
  const invalid = (why: string) => new InvalidInputError('REGISTRY_DOCUMENT_INVALID', `${url} is not Maven metadata for ${name}: ${why}`, { details: { name, url } });
  let doc: { metadata?: { groupId?: unknown; artifactId?: unknown; versioning?: { release?: unknown; versions?: { version?: unknown[] } } } };
  try {
    doc = xml.parse(text, true) as typeof doc;
  } catch (err) {
    throw invalid((err as Error).message);
  }
  const m = doc.metadata;
  if (!m || typeof m !== 'object') throw invalid('no <metadata> root');
  const [group, artifact] = name.split(':');
  if ((m.groupId !== undefined && m.groupId !== group) || (m.artifactId !== undefined && m.artifactId !== artifact)) throw invalid(`it names ${String(m.groupId)}:${String(m.artifactId)}`);
  const listed = m.versioning?.versions?.version ?? [];
  const versions = [...new Set(listed.filter((v): v is string => typeof v === 'string').map((v) => v.trim()))]
    .filter(isMavenVersion)
    .sort(compareMavenVersions)
    .map((version) => ({ version, yanked: false, deprecated: false }));
  const release = typeof m.versioning?.release === 'string' && isMavenVersion(m.versioning.release) ? m.versioning.release : undefined;
  return { versions, ...(release ? { release } : {}) };
}

/** One Maven repository of a {@link MavenRepositorySource}. */
export interface MavenRepository {
  /** Base URL, e.g. `https://repo.maven.apache.org/maven2` or an Artifactory/Nexus repository URL. */
  url: string;
  credentials?: RegistryCredentials;
}

/** Options of {@link MavenRepositorySource}: `url`/`credentials` of the seam describe the first repository. */
export interface MavenRepositorySourceOptions extends Omit<RegistrySourceOptions, 'url' | 'credentials'> {
  /** Repositories in order (Maven's order of `<repositories>`): at least one. */
  repositories: readonly MavenRepository[];
}

/**
 * Repositories from `MAVEN_REPOSITORY_URL`, a comma-separated list of base URLs. Basic credentials
 * of one repository may be written in its URL (`https://user:pass@nexus.example/repository/maven-public`,
 * percent-encoded); `credentials` (the `MAVEN_REPOSITORY_TOKEN` or `MAVEN_REPOSITORY_USERNAME` /
 * `MAVEN_REPOSITORY_PASSWORD` pair) go to the first repository only (list the private one first),
 * unless its URL carries its own.
 * @throws InvalidInputError `REPOSITORY_URL_INVALID` when an entry is not an http(s) URL or the list is empty.
 */
export function parseMavenRepositories(list: string, credentials?: RegistryCredentials): MavenRepository[] {
  const out: MavenRepository[] = [];
  for (const raw of list.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new InvalidInputError('REPOSITORY_URL_INVALID', `MAVEN_REPOSITORY_URL entry is not a URL: ${JSON.stringify(raw.replace(/\/\/[^@/]*@/, '//***@'))}`, { details: {} });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidInputError('REPOSITORY_URL_INVALID', `MAVEN_REPOSITORY_URL entry is not an http(s) URL: ${url.protocol}`, { details: {} });
    const own: RegistryCredentials | undefined = url.username !== '' ? { kind: 'basic', username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : undefined;
    url.username = '';
    url.password = '';
    const creds = own ?? (out.length === 0 ? credentials : undefined);
    out.push({ url: url.toString().replace(/\/+$/, ''), ...(creds ? { credentials: creds } : {}) });
  }
  if (out.length === 0) throw new InvalidInputError('REPOSITORY_URL_INVALID', 'MAVEN_REPOSITORY_URL names no repository', { details: {} });
  return out;
}

function authorization(c: RegistryCredentials | undefined): Record<string, string> {
  if (c === undefined) return {};
  return { authorization: c.kind === 'basic' ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : `Bearer ${c.token}` };
}

/**
 * {@link RegistrySource} over Maven repositories in the Maven 2 layout: `GET <repository>/<group
 * path>/<artifact>/maven-metadata.xml` ({@link mavenMetadataPath}) in each repository, in order.
 * The versions of every repository that answers are merged (a private repository proxying Central
 * may lag it, a hosted one holds in-house releases); `latest` is the `<release>` of the first
 * repository that answers. A 404 means "not in this one"; when none has the artifact,
 * `PACKAGE_NOT_FOUND`. A repository that is unavailable (after the retries of
 * `fetchRegistryJson`: network errors, timeouts, 408, 429, 5xx; or a 401/403) is passed over when
 * another answers, and its error is thrown when none does. Credentials per repository: basic or
 * bearer, in `Authorization`, never logged.
 */
export class MavenRepositorySource implements RegistrySource {
  readonly label: string;
  private readonly repositories: Array<{ url: string; http: RegistryHttpOptions }>;

  constructor(options: MavenRepositorySourceOptions) {
    if (options.repositories.length === 0) throw new InvalidInputError('REPOSITORY_URL_INVALID', 'no Maven repository given', { details: {} });
    this.repositories = options.repositories.map((r) => {
      const url = r.url.replace(/\/+$/, '');
      return {
        url,
        http: {
          fetch: options.fetch ?? globalThis.fetch,
          timeoutMs: options.timeoutMs ?? 60_000,
          retries: options.retries ?? 4,
          minRetryDelayMs: options.minRetryDelayMs ?? 1_000,
          maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
          headers: authorization(r.credentials),
          kind: 'repository',
          label: url,
        },
      };
    });
    this.label = this.repositories.map((r) => r.url).join(',');
  }

  /**
   * @param name `groupId:artifactId`.
   * @throws InvalidInputError `PACKAGE_NAME_INVALID`, `PACKAGE_NOT_FOUND` (404 in every repository), `REGISTRY_DOCUMENT_INVALID`.
   * @throws TransientError `REGISTRY_UNAVAILABLE` when no repository answered and one was unavailable.
   */
  async releases(name: string): Promise<PackageReleases> {
    const path = mavenMetadataPath(name);
    const byVersion = new Map<string, PublishedVersion>();
    const answered: string[] = [];
    let latest: string | undefined;
    let unavailable: TransientError | undefined;
    for (const repo of this.repositories) {
      const url = `${repo.url}/${path}`;
      try {
        const doc = await fetchRegistryJson(repo.http, { name, url, accept: 'application/xml, text/xml;q=0.9, */*;q=0.8', body: 'text', parse: (body) => fromMavenMetadata(name, body as string, url) });
        answered.push(repo.url);
        latest ??= doc.release;
        for (const v of doc.versions) if (![...byVersion.keys()].some((k) => compareMavenVersions(k, v.version) === 0)) byVersion.set(v.version, v);
      } catch (err) {
        if (err instanceof InvalidInputError && err.code === 'PACKAGE_NOT_FOUND') continue;
        if (err instanceof TransientError) {
          unavailable ??= err;
          continue;
        }
        throw err;
      }
    }
    if (answered.length === 0) {
      if (unavailable) throw unavailable;
      throw new InvalidInputError('PACKAGE_NOT_FOUND', `package ${name} was not found in ${this.label}`, { details: { name, repositories: this.repositories.map((r) => r.url) } });
    }
    const versions = [...byVersion.values()].sort((a, b) => compareMavenVersions(a.version, b.version));
    return { name, versions, source: answered.join(','), ...(latest ? { latest } : {}) };
  }
}
