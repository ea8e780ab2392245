/**
 * Node.js (V8) flags each service runs with, by service name (`apps/<service>`). The planner holds
 * a whole scan and the advisories of its packages while planning; a young generation of 2 MiB
 * semi-spaces (`--max-semi-space-size`, in MiB: https://nodejs.org/api/cli.html#--max-semi-space-sizesize-in-mib)
 * keeps its peak resident memory about 100 MiB lower on a 20,000-component scan at a similar
 * time (docs/decisions/0012-planner-memory.md has the measurements). A heap growing factor of
 * 1.2 after each full collection (`--heap-growing-percent`, a V8 flag: `node --v8-options`) keeps
 * a running planner's resident memory near what one plan needs: with V8's own factor (up to 4×)
 * the old generation grew for several plans before a full collection, to ≈ 540 MiB peak over eight
 * plans of a 20,000-component scan against ≈ 283 MiB with it (docs/decisions/0028-running-planner-memory.md).
 * tools/stack and scripts/bench-planner.ts start the planner's code with these flags; the
 * container image takes them from `NODE_FLAGS` (docker/compose.yaml sets them, a test checks).
 */
export const SERVICE_NODE_FLAGS: Readonly<Record<string, readonly string[]>> = {
  planner: ['--max-semi-space-size=2', '--heap-growing-percent=20'],
};

/** The Node.js flags of `service` (none for a service without any). */
export function serviceNodeFlags(service: string): readonly string[] {
  return SERVICE_NODE_FLAGS[service] ?? [];
}
