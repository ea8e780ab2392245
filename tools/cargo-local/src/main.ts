import { runLocalRegistryCli } from '@remediation/local-registry';
import { startCargoLocal } from './server.js';

/**
 * CLI of cargo-local: `tsx tools/cargo-local/src/main.ts --dir test/fixtures/registry/cargo [--port 3904] [--host 127.0.0.1]`.
 * Serves a Cargo sparse index at `<url>/` (use `<url>` as `CARGO_INDEX_URL`, or `sparse+<url>/`
 * as a Cargo registry `index`). Flags fall back to env `CARGO_LOCAL_DIR`, `CARGO_LOCAL_PORT`,
 * `CARGO_LOCAL_HOST`; env `CARGO_LOCAL_AUTHORIZATION` requires that exact `Authorization` header.
 * Prints one line when ready, `cargo-local listening on <url>`. Stops on SIGTERM/SIGINT. Exit code
 * 2 on bad arguments, 1 when the server cannot start.
 */
runLocalRegistryCli({ name: 'cargo-local', envPrefix: 'CARGO_LOCAL', defaultPort: 3904, dirHelp: 'folder of index files', start: startCargoLocal });
