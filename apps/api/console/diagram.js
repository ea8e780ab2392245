// The state machine of an execution kind, drawn as SVG from the graph the API derives from
// libs/state-machine (`/console/state-machine.json`): states in columns by their distance from the
// initial state, moves as arrows, the current state lit.
import { html } from 'htm/preact';

const COLUMN = 190;
const ROW = 64;
const NODE_W = 150;
const NODE_H = 34;
const PAD = 12;

/** Columns of states: breadth-first distance from `graph.initial` (unreachable states last). */
function layout(graph) {
  const depth = new Map([[graph.initial, 0]]);
  const queue = [graph.initial];
  while (queue.length) {
    const s = queue.shift();
    for (const e of graph.edges) {
      if (e.from === s && !depth.has(e.to)) {
        depth.set(e.to, depth.get(s) + 1);
        queue.push(e.to);
      }
    }
  }
  const maxDepth = Math.max(0, ...depth.values());
  const columns = [];
  for (const s of graph.states) {
    const d = depth.get(s) ?? maxDepth + 1;
    (columns[d] ??= []).push(s);
  }
  const pos = new Map();
  columns.forEach((states, c) => states?.forEach((s, r) => pos.set(s, { x: PAD + c * COLUMN, y: PAD + r * ROW })));
  const rows = Math.max(...columns.map((c) => c?.length ?? 0));
  // Room on the right for same-column arcs and below for backward ones.
  return { pos, width: PAD * 2 + (columns.length - 1) * COLUMN + NODE_W + 50, height: PAD * 2 + (rows - 1) * ROW + NODE_H + ROW / 2 };
}

/** Class of a state's colour: running, done, failed, stopped. */
export function stateTone(state) {
  if (/running|opening|updating|changes_requested/.test(state)) return 'running';
  if (/failed/.test(state)) return 'failed';
  if (/cancelled|closed/.test(state)) return 'stopped';
  return 'done';
}

/**
 * `<StateDiagram graph state step />`: the SVG, with a text equivalent (the current state, step
 * and the moves out of it) for screen readers and for reading without the drawing.
 */
export function StateDiagram({ graph, state, step }) {
  if (!graph) return html`<p>Loading the state machine…</p>`;
  const { pos, width, height } = layout(graph);
  const edgePath = (e) => {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) return null;
    if (b.x > a.x) {
      // Forward: right side to left side.
      const [x1, y1, x2, y2] = [a.x + NODE_W, a.y + NODE_H / 2, b.x, b.y + NODE_H / 2];
      const mx = (x1 + x2) / 2;
      return `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`;
    }
    if (b.x === a.x) {
      // Same column: an arc on the right, wider for rows further apart.
      const [x, y1, y2] = [a.x + NODE_W, a.y + NODE_H / 2, b.y + NODE_H / 2];
      const bulge = 18 + 10 * Math.abs(b.y - a.y) / ROW;
      return `M${x},${y1} C${x + bulge},${y1} ${x + bulge},${y2} ${x},${y2}`;
    }
    // Backward (retry, feedback, a maintenance step ending): between the boxes' centres, through
    // the gap between rows.
    const [x1, x2] = [a.x + NODE_W / 2, b.x + NODE_W / 2];
    if (b.y === a.y) {
      const [y, my] = [a.y + NODE_H, a.y + NODE_H + (ROW - NODE_H) * 0.7];
      return `M${x1},${y} C${x1},${my} ${x2},${my} ${x2},${y}`;
    }
    const up = b.y < a.y;
    const [y1, y2] = up ? [a.y, b.y + NODE_H] : [a.y + NODE_H, b.y];
    const d = up ? -20 : 20;
    return `M${x1},${y1} C${x1},${y1 + d} ${x2},${y2 - d} ${x2},${y2}`;
  };
  const outgoing = graph.edges.filter((e) => e.from === state);
  return html`
    <figure class="diagram">
      <svg viewBox="0 0 ${width} ${height}" width=${width} height=${height} role="img"
        aria-labelledby="diagram-caption" data-current-state=${state}>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" class="arrow-head" />
          </marker>
        </defs>
        ${graph.edges.map((e) => {
          const d = edgePath(e);
          return d
            ? html`<path d=${d} class=${`edge${e.from === state ? ' edge-out' : ''}`} marker-end="url(#arrow)"><title>${e.from} → ${e.to}: ${e.events.join(', ')}</title></path>`
            : null;
        })}
        ${graph.states.map((s) => {
          const p = pos.get(s);
          const current = s === state;
          return html`
            <g class=${`node tone-${stateTone(s)}${current ? ' current' : ''}`} data-state=${s} data-current=${current ? 'true' : 'false'}
              transform="translate(${p.x},${p.y})">
              <rect width=${NODE_W} height=${NODE_H} rx="6" />
              <text x=${NODE_W / 2} y=${current && step ? 14 : NODE_H / 2 + 4} text-anchor="middle">${s}</text>
              ${current && step ? html`<text x=${NODE_W / 2} y="28" text-anchor="middle" class="step">step: ${step}</text>` : null}
            </g>`;
        })}
      </svg>
      <figcaption id="diagram-caption">
        ${graph.kind} execution, now <strong>${state}</strong>${step ? html` at step <strong>${step}</strong>` : ''}.
        ${outgoing.length
          ? html` Next possible: ${outgoing.map((e, i) => html`${i ? '; ' : ''}<span>${e.to} (${e.events.join(', ')})</span>`)}.`
          : ' No further move.'}
      </figcaption>
    </figure>`;
}
