// Entry of the scan parser's worker threads (./scan-parser.ts). A worker does not inherit the
// service's tsx loader, so it registers tsx with the repository's tsconfig (for the
// `@remediation/*` paths) and then loads the TypeScript worker, ./scan-worker.ts.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../../../../tsconfig.json', import.meta.url)) });
await import('./scan-worker.ts');
