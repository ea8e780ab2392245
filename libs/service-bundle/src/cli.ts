/**
 * Builds the bundles of the services that run from one (`BUNDLED_SERVICES`, decision 0031) into
 * `dist/<service>/main.mjs`: `node --import tsx libs/service-bundle/src/cli.ts` (docker/Dockerfile
 * runs it when the image is built). Exits 1 naming the service whose bundle failed.
 */
import { resolve } from 'node:path';
import { BUNDLED_SERVICES, bundleService } from './bundle.js';

const repoRoot = resolve(import.meta.dirname, '../../..');
for (const service of BUNDLED_SERVICES) {
  try {
    console.log(`bundled ${service}: ${await bundleService(repoRoot, service)}`);
  } catch (err) {
    console.error(`bundle of ${service} failed: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
