/** `@remediation/pypi-local`: a local PyPI-compatible index (JSON API and Simple API JSON) for tests. */
export { startPypiLocal, type PypiLocal, type PypiLocalOptions } from './server.js';
