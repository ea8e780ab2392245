/**
 * Node.js (V8) flags each service runs with, by service name (`apps/<service>`). The planner holds
 * a whole scan and the advisories of its packages while planning; a young generation of 2 MiB
 * semi-spaces (`--max-semi-space-size`, in MiB: https://nodejs.org/api/cli.html#--max-semi-space-sizesize-in-mib)
 * keeps its peak resident memory about 100 MiB lower on a 20,000-component scan at a similar
 * time (docs/decisions/0012-planner-semi-space.md has the measurements). tools/stack and
 * scripts/bench-planner.ts start the planner's code with these flags.
 */
export const SERVICE_NODE_FLAGS: Readonly<Record<string, readonly string[]>> = {
  planner: ['--max-semi-space-size=2'],
};

/** The Node.js flags of `service` (none for a service without any). */
export function serviceNodeFlags(service: string): readonly string[] {
  return SERVICE_NODE_FLAGS[service] ?? [];
}
