/** `@remediation/osv-local`: a local OSV data dump (`all.zip` per ecosystem) and OSV API for tests. */
export { startOsvLocal, withZip64End, type OsvLocal, type OsvLocalOptions } from './server.js';
