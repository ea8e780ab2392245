/**
 * Node.js (V8) flags each service runs with, by service name (`apps/<service>`). The planner holds
 * a whole scan and the advisories of its packages while planning. Its young generation has 16 MiB
 * semi-spaces (`--max-semi-space-size`, in MiB: https://nodejs.org/api/cli.html#--max-semi-space-sizesize-in-mib):
 * most of what a plan allocates lives for milliseconds, and larger semi-spaces let it die young
 * instead of being copied and promoted; 2 MiB semi-spaces (decision 0012) spent ≈ 100 ms more in
 * garbage collection per 20,000-component plan. That room comes from running the planner from a
 * bundle instead of through tsx (≈ 60 MiB less resident at start; docs/decisions/0031-planner-bundle.md).
 * A heap growing factor of 1.2 after each full collection (`--heap-growing-percent`, a V8 flag:
 * `node --v8-options`) keeps a running planner's resident memory near what one plan needs: with
 * V8's own factor (up to 4×) the old generation grew for several plans before a full collection
 * (docs/decisions/0028-running-planner-memory.md). tools/stack and scripts/bench-planner.ts start
 * the planner's code with these flags; the container image takes them from `NODE_FLAGS`
 * (docker/compose.yaml sets them, a test checks).
 */
export const SERVICE_NODE_FLAGS: Readonly<Record<string, readonly string[]>> = {
  planner: ['--max-semi-space-size=16', '--heap-growing-percent=20'],
};

/** The Node.js flags of `service` (none for a service without any). */
export function serviceNodeFlags(service: string): readonly string[] {
  return SERVICE_NODE_FLAGS[service] ?? [];
}
