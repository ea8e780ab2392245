/**
 * A small parser of the Prometheus text exposition format (version 0.0.4, as prom-client writes
 * it: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format), for tests
 * that scrape `/metrics`: samples with their labels, and the `# TYPE` of each family.
 */

/** One sample line: `name{label="value",…} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed exposition: samples in order and the declared type of each metric family. */
export interface Exposition {
  samples: Sample[];
  types: Map<string, string>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;

/** Label values are escaped with `\\`, `\"` and `\n` in the text format. */
function unescape(value: string): string {
  return value.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const start = LABEL.lastIndex;
    const m = LABEL.exec(text);
    if (!m || LABEL.lastIndex === start) throw new Error(`malformed labels in exposition line: ${line}`);
    labels[m[1]!] = unescape(m[2]!);
  }
  return labels;
}

/**
 * Parses an exposition.
 * @throws Error naming the line when a sample line is malformed or its value is not a number
 *   (`NaN`, `+Inf`, `-Inf` are numbers in this format).
 */
export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) types.set(type[1]!, type[2]!);
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`malformed exposition line: ${line}`);
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    if (Number.isNaN(value) && m[3] !== 'NaN') throw new Error(`sample value is not a number: ${line}`);
    samples.push({ name: m[1]!, labels: m[2] ? parseLabels(m[2], line) : {}, value });
  }
  return { samples, types };
}

/** Sum of the samples named `name` whose labels include `labels` (0 when none match). */
export function sumOf(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return matching(samples, name, labels).reduce((total, s) => total + s.value, 0);
}

/** The samples named `name` whose labels include `labels`. */
export function matching(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}
