import type { ProgressEvent, Step } from '@remediation/contracts';

/**
 * One line of text for a progress event (docs/events.md "Progress"), without the step:
 * `clone 450/1000 objects (receiving objects)`, `bundle 1048576/4194304 bytes (downloading bundle)`,
 * `agent tool read_file`, `agent started`, `lookup express`. Unknown event names are shown as they are.
 */
export function describeProgress(p: ProgressEvent): string {
  const d = p.details;
  const text = (k: string) => (typeof d[k] === 'string' || typeof d[k] === 'number' ? String(d[k]) : null);
  switch (p.event) {
    case 'workspace.progress': {
      const unit = text('operation') === 'bundle' && text('phase') === 'downloading bundle' ? 'bytes' : 'objects';
      const counts = Number(d['total']) > 0 ? `${text('received')}/${text('total')} ${unit}` : `${text('received') ?? 0} ${unit}`;
      const phase = text('phase');
      const detail = text('detail');
      return `${text('operation') ?? 'git'} ${counts}${phase ? ` (${phase})` : ''}${detail ? `: ${detail}` : ''}`;
    }
    case 'tool_call':
      return `agent tool ${text('tool') ?? '?'}${d['isError'] === true ? ' (error)' : ''}`;
    case 'agent_started':
    case 'agent_resumed':
      return `agent ${p.event === 'agent_started' ? 'started' : 'resumed'}${text('iteration') ? ` (iteration ${text('iteration')})` : ''}`;
    case 'model_retry':
      return `model retry ${text('attempt') ?? ''}${text('status') ? ` (${text('status')})` : ''}`.trim();
    case 'plan.lookup':
      return `lookup ${text('package') ?? '?'}`;
    case 'decision_started':
      return 'deciding on partial success';
    default:
      return p.event;
  }
}

/** Where progress lines go: stderr, and whether it is a terminal. */
export interface ProgressSink {
  write(text: string): void;
  isTTY: boolean;
}

/**
 * Shows one progress line per step. On a terminal the step's line is rewritten in place as its
 * progress moves and kept when the step ends; elsewhere (CI logs) the line is printed when it
 * changes, at most once every `intervalMs` (default 5 s) per step, and its last text when the
 * step ends, so a log gets a handful of lines per step rather than one per heartbeat.
 */
export class ProgressLines {
  private step: Step | null = null;
  private text = '';
  private printed = '';
  private printedAt = 0;
  private open = false;

  constructor(
    private readonly sink: ProgressSink,
    private readonly prefix: string,
    private readonly intervalMs = 5_000,
  ) {}

  /** Shows `p` on its step's line (ending the previous step's line when the step changed). */
  progress(p: ProgressEvent, now = Date.now()): void {
    if (this.step !== p.step) this.end();
    this.step = p.step;
    this.text = `${p.step}: ${describeProgress(p)}`;
    if (this.sink.isTTY) {
      this.sink.write(`\r\x1b[K${this.prefix}  ${this.text}`);
      this.open = true;
    } else if (this.text !== this.printed && now - this.printedAt >= this.intervalMs) {
      this.print(now);
    }
  }

  /** Ends the current step's line (before any other output, and when the step or state changes). */
  end(): void {
    if (this.sink.isTTY) {
      if (this.open) this.sink.write('\n');
      this.open = false;
    } else if (this.step && this.text && this.text !== this.printed) {
      this.print();
    }
    this.step = null;
    this.text = '';
    this.printed = '';
    this.printedAt = 0;
  }

  private print(now = Date.now()): void {
    this.sink.write(`${this.prefix}  ${this.text}\n`);
    this.printed = this.text;
    this.printedAt = now;
  }
}
