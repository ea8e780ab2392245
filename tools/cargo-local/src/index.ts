/** `@remediation/cargo-local`: a local Cargo sparse index (index files and config.json) for tests. */
export { startCargoLocal, type CargoLocal, type CargoLocalOptions } from './server.js';
