/**
 * How a service process is started: from a bundle of its code (the services in
 * {@link BUNDLED_SERVICES}, docs/decisions/0031-planner-bundle.md) or through tsx.
 */
export { BUNDLED_SERVICES, bundleEntry, bundlePath, bundleService, serviceArgs } from './bundle.js';
