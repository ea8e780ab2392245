/** `@remediation/go-proxy-local`: a local Go module proxy (`@v/list`, `.info`, `.mod`, `@latest`) for tests. */
export { startGoProxyLocal, type GoProxyLocal, type GoProxyLocalOptions } from './server.js';
