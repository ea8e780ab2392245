/** `@remediation/local-registry`: the HTTP scaffolding of the local registry servers for tests (request log, fault injection, required credentials). */
export { startLocalRegistry, type LocalRegistry, type LocalRegistryOptions, type LocalAnswer, type LocalRequestHandler } from './server.js';
export { runLocalRegistryCli, type LocalRegistryCli } from './cli.js';
