import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type LocalRegistry, type LocalRegistryOptions, startLocalRegistry } from '@remediation/local-registry';

/** Options of {@link startMavenLocal}; `authorization` makes every other `Authorization` get 401, as Artifactory and Nexus answer. */
export interface MavenLocalOptions extends LocalRegistryOptions {
  /**
   * Folder laid out as a Maven repository (https://maven.apache.org/repositories/layout.html):
   * `<group path>/<artifact>/maven-metadata.xml`, e.g. `org/apache/logging/log4j/log4j-core/maven-metadata.xml`.
   * Re-read on every request.
   */
  dir: string;
}

/** A running maven-local server: `url` is one entry of MAVEN_REPOSITORY_URL; request log and fault injection of @remediation/local-registry. */
export type MavenLocal = LocalRegistry;

/** `<group path>/<artifact>/maven-metadata.xml`: path segments of Maven ids, nothing that could leave the folder. */
const METADATA_PATH = /^\/(?:[A-Za-z0-9_][A-Za-z0-9_.-]*\/)+maven-metadata\.xml$/;

/**
 * A local Maven repository for tests: `GET /<group path>/<artifact>/maven-metadata.xml` served
 * from a folder (`application/xml`); any other path, a missing file, or a segment with `..`: 404.
 * Serves no artifacts (`.jar`, `.pom`).
 */
export async function startMavenLocal(options: MavenLocalOptions): Promise<MavenLocal> {
  return startLocalRegistry({ ...options, wwwAuthenticate: 'Basic realm="maven-local"' }, async (path) => {
    if (!METADATA_PATH.test(path) || path.split('/').includes('..')) return { status: 404, body: 'not found' };
    const text = await readFile(join(options.dir, ...path.slice(1).split('/')), 'utf8').catch(() => undefined);
    return text === undefined ? { status: 404, body: 'not found' } : { status: 200, body: text, contentType: 'application/xml' };
  });
}
