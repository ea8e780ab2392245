import { runLocalRegistryCli } from '@remediation/local-registry';
import { startMavenLocal } from './server.js';

/**
 * CLI of maven-local: `tsx tools/maven-local/src/main.ts --dir test/fixtures/registry/maven [--port 3906] [--host 127.0.0.1]`.
 * Serves a Maven repository layout at `<url>/` (use `<url>` as an entry of `MAVEN_REPOSITORY_URL`).
 * Flags fall back to env `MAVEN_LOCAL_DIR`, `MAVEN_LOCAL_PORT`, `MAVEN_LOCAL_HOST`; env
 * `MAVEN_LOCAL_AUTHORIZATION` requires that exact `Authorization` header. Prints one line when
 * ready, `maven-local listening on <url>`. Stops on SIGTERM/SIGINT. Exit code 2 on bad arguments,
 * 1 when the server cannot start.
 */
runLocalRegistryCli({ name: 'maven-local', envPrefix: 'MAVEN_LOCAL', defaultPort: 3906, dirHelp: 'folder in the Maven repository layout', start: startMavenLocal });
