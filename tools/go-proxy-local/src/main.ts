import { runLocalRegistryCli } from '@remediation/local-registry';
import { startGoProxyLocal } from './server.js';

/**
 * CLI of go-proxy-local: `tsx tools/go-proxy-local/src/main.ts --dir test/fixtures/registry/go [--port 3905] [--host 127.0.0.1]`.
 * Serves the Go module proxy protocol at `<url>` (use it as GOPROXY). Flags fall back to env
 * `GO_PROXY_LOCAL_DIR`, `GO_PROXY_LOCAL_PORT`, `GO_PROXY_LOCAL_HOST`; env
 * `GO_PROXY_LOCAL_AUTHORIZATION` requires that exact `Authorization` header. Prints one line when
 * ready, `go-proxy-local listening on <url>`. Stops on SIGTERM/SIGINT. Exit code 2 on bad
 * arguments, 1 when the server cannot start.
 */
runLocalRegistryCli({ name: 'go-proxy-local', envPrefix: 'GO_PROXY_LOCAL', defaultPort: 3905, dirHelp: 'folder laid out as a module proxy', start: startGoProxyLocal });
