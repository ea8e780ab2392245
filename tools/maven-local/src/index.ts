/** `@remediation/maven-local`: a local Maven repository (maven-metadata.xml files) for tests. */
export { startMavenLocal, type MavenLocal, type MavenLocalOptions } from './server.js';
