import { runLocalRegistryCli } from '@remediation/local-registry';
import { startPypiLocal } from './server.js';

/**
 * CLI of pypi-local: `tsx tools/pypi-local/src/main.ts --dir test/fixtures/registry/pypi [--port 3903] [--host 127.0.0.1]`.
 * Serves PyPI's JSON API at `<url>/pypi/<name>/json` and the Simple API JSON at `<url>/simple/`
 * (use `<url>` as `PYPI_URL`). Flags fall back to env `PYPI_LOCAL_DIR`, `PYPI_LOCAL_PORT`,
 * `PYPI_LOCAL_HOST`; env `PYPI_LOCAL_AUTHORIZATION` requires that exact `Authorization` header.
 * Prints one line when ready, `pypi-local listening on <url>`. Stops on SIGTERM/SIGINT. Exit code
 * 2 on bad arguments, 1 when the server cannot start.
 */
runLocalRegistryCli({ name: 'pypi-local', envPrefix: 'PYPI_LOCAL', defaultPort: 3903, dirHelp: 'folder of package files', start: startPypiLocal });
