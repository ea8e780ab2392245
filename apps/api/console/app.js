// The operator console (issue 16): remediations, executions, one execution live, dead letters.
// Preact + htm as ES modules, no build step; data only through the authenticated /v1/ routes.
import { render } from 'preact';
import { html } from 'htm/preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import hljs from 'highlight.js/core';
import diffLanguage from 'highlight.js/languages/diff';
import { ApiError, apiKey, call, followExecution, setApiKey } from './api.js';
import { StateDiagram, stateTone } from './diagram.js';

hljs.registerLanguage('diff', diffLanguage);

const POLL_MS = 2000;

// ---------------------------------------------------------------------------------------------
// Routing: #/executions?state=…&kind=…, #/executions/<id>, #/remediations, #/dead-letters

function parseRoute() {
  const raw = location.hash.replace(/^#/, '') || '/executions';
  const [path, query = ''] = raw.split('?');
  const params = new URLSearchParams(query);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'executions' && parts[1]) return { page: 'execution', id: parts[1] };
  if (parts[0] === 'remediations') return { page: 'remediations', params };
  if (parts[0] === 'dead-letters') return { page: 'dead-letters', params };
  return { page: 'executions', params };
}

const executionHref = (id) => `#/executions/${encodeURIComponent(id)}`;

function useRoute() {
  const [route, setRoute] = useState(parseRoute);
  useEffect(() => {
    const onHash = () => setRoute(parseRoute());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  return route;
}

// ---------------------------------------------------------------------------------------------
// Small pieces

const time = (iso) => (iso ? new Date(iso).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' }) : '—');

function StateBadge({ state }) {
  return html`<span class=${`badge tone-${stateTone(state)}`} data-state-badge=${state}>${state}</span>`;
}

function ErrorText({ error }) {
  if (!error) return null;
  return html`<span class="error"><code>${error.code}</code> ${error.message}</span>`;
}

/** A heading that takes focus when the page changes, so keyboard and screen-reader users land on it. */
function PageHeading({ children }) {
  const ref = useRef(null);
  useEffect(() => ref.current?.focus(), []);
  return html`<h1 tabindex="-1" ref=${ref}>${children}</h1>`;
}

function Problem({ error }) {
  if (!error) return null;
  const text = error instanceof ApiError ? `${error.code}: ${error.message}` : String(error.message ?? error);
  return html`<p class="problem" role="alert">${text}</p>`;
}

/** Loads `load()` now and whenever `deps` change; `reload` runs it again. */
function useLoad(load, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const reload = useCallback(async () => {
    try {
      setState((s) => ({ ...s, data: s.data, loading: true }));
      setState({ data: await load(), error: null, loading: false });
    } catch (error) {
      setState((s) => ({ data: s.data, error, loading: false }));
    }
  }, deps);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { ...state, reload };
}

let graphsPromise = null;
/** The state graphs of both kinds (derived from libs/state-machine by the API). */
function useGraphs() {
  const [graphs, setGraphs] = useState(null);
  useEffect(() => {
    graphsPromise ??= fetch('/console/state-machine.json').then((r) => r.json());
    graphsPromise.then(setGraphs, () => setGraphs(null));
  }, []);
  return graphs;
}

// ---------------------------------------------------------------------------------------------
// The API key form

function KeyForm({ onKey, reason }) {
  const [value, setValue] = useState('');
  const ref = useRef(null);
  useEffect(() => ref.current?.focus(), []);
  return html`
    <main id="main" class="key-page">
      <h1>Remediation console</h1>
      <form class="key-form" onSubmit=${(e) => {
        e.preventDefault();
        if (value.trim()) onKey(value.trim());
      }}>
        <p>The console reads and acts through the API with your API key (<code>rk_…</code>, from
          <code>./run admin api-key-create</code>). It is kept for this browser tab only.</p>
        ${reason ? html`<p class="problem" role="alert">${reason}</p>` : null}
        <label for="api-key">API key</label>
        <input id="api-key" ref=${ref} type="password" autocomplete="off" spellcheck="false" required
          value=${value} onInput=${(e) => setValue(e.currentTarget.value)} />
        <button type="submit">Use this key</button>
      </form>
    </main>`;
}

// ---------------------------------------------------------------------------------------------
// Lists

function ExecutionsPage({ params, graphs }) {
  const state = params.get('state') ?? '';
  const kind = params.get('kind') ?? '';
  const remediationId = params.get('remediationId') ?? '';
  const [pages, setPages] = useState([]);
  const query = (before) => {
    const q = new URLSearchParams();
    if (state) q.set('state', state);
    if (kind) q.set('kind', kind);
    if (remediationId) q.set('remediationId', remediationId);
    if (before) q.set('before', before);
    return `/v1/executions?${q}`;
  };
  const { data, error, loading, reload } = useLoad(() => call(query()), [state, kind, remediationId]);
  useEffect(() => setPages([]), [data]);
  const rows = [...(data?.executions ?? []), ...pages.flatMap((p) => p.executions)];
  const next = pages.at(-1)?.nextCursor ?? data?.nextCursor ?? null;
  const allStates = graphs ? [...graphs.plan.states, ...graphs.patch.states] : [];
  const apply = (e) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const q = new URLSearchParams();
    for (const k of ['state', 'kind', 'remediationId']) if (f.get(k)) q.set(k, String(f.get(k)));
    location.hash = `#/executions${q.size ? `?${q}` : ''}`;
  };
  return html`
    <${PageHeading}>Executions<//>
    <form class="filters" onSubmit=${apply} aria-label="Filter executions">
      <label>State
        <select name="state" value=${state}>
          <option value="">any</option>
          ${allStates.map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
      </label>
      <label>Kind
        <select name="kind" value=${kind}>
          <option value="">any</option>
          <option value="plan">plan</option>
          <option value="patch">patch</option>
        </select>
      </label>
      <label>Remediation
        <input name="remediationId" value=${remediationId} placeholder="rem_…" size="24" />
      </label>
      <button type="submit">Apply filters</button>
      <button type="button" class="secondary" onClick=${reload}>Refresh</button>
    </form>
    <${Problem} error=${error} />
    <table>
      <caption>${loading ? 'Loading…' : `${rows.length} execution${rows.length === 1 ? '' : 's'}${state || kind || remediationId ? ' matching the filters' : ''}, newest first`}</caption>
      <thead><tr><th scope="col">Execution</th><th scope="col">Kind</th><th scope="col">Tier</th><th scope="col">State</th><th scope="col">Step</th><th scope="col">Started</th><th scope="col">Completed</th><th scope="col">Error</th></tr></thead>
      <tbody>
        ${rows.map((x) => html`
          <tr>
            <td><a href=${executionHref(x.id)}>${x.id}</a></td>
            <td>${x.kind}</td>
            <td>${x.tier ?? '—'}</td>
            <td><${StateBadge} state=${x.state} /></td>
            <td>${x.step ?? '—'}</td>
            <td>${time(x.startedAt)}</td>
            <td>${time(x.completedAt)}</td>
            <td><${ErrorText} error=${x.error} /></td>
          </tr>`)}
      </tbody>
    </table>
    ${next ? html`<button type="button" onClick=${async () => setPages([...pages, await call(query(next))])}>Load more</button>` : null}`;
}

function RemediationsPage() {
  const { data, error, loading, reload } = useLoad(() => call('/v1/remediations?limit=100'), []);
  const rows = data?.remediations ?? [];
  return html`
    <${PageHeading}>Remediations<//>
    <p><button type="button" class="secondary" onClick=${reload}>Refresh</button></p>
    <${Problem} error=${error} />
    <table>
      <caption>${loading ? 'Loading…' : `${rows.length} remediation${rows.length === 1 ? '' : 's'}, newest first`}</caption>
      <thead><tr><th scope="col">Remediation</th><th scope="col">Repository</th><th scope="col">Plan</th><th scope="col">Patch executions</th><th scope="col">Created</th></tr></thead>
      <tbody>
        ${rows.map((r) => html`
          <tr>
            <td>${r.id}</td>
            <td class="wrap">${r.repository}</td>
            <td><a href=${executionHref(r.planExecutionId)}><${StateBadge} state=${r.state} /></a></td>
            <td><a href=${`#/executions?remediationId=${encodeURIComponent(r.id)}`}>${r.patchExecutions} execution${r.patchExecutions === 1 ? '' : 's'}</a></td>
            <td>${time(r.createdAt)}</td>
          </tr>`)}
      </tbody>
    </table>`;
}

function DeadLettersPage() {
  const { data, error, loading, reload } = useLoad(() => call('/v1/dead-letters'), []);
  const rows = data?.deadLetters ?? [];
  return html`
    <${PageHeading}>Dead letters<//>
    <p>Messages given up on after their deliveries ran out. Reading them needs the <code>admin</code> scope.
      <button type="button" class="secondary" onClick=${reload}>Refresh</button></p>
    <${Problem} error=${error} />
    <table>
      <caption>${loading ? 'Loading…' : `${rows.length} dead letter${rows.length === 1 ? '' : 's'}, newest first`}</caption>
      <thead><tr><th scope="col">#</th><th scope="col">Execution</th><th scope="col">Subject</th><th scope="col">Deliveries</th><th scope="col">Reason</th><th scope="col">Kept at</th></tr></thead>
      <tbody>
        ${rows.map((d) => html`
          <tr>
            <td>${d.id}</td>
            <td>${d.executionId ? html`<a href=${executionHref(d.executionId)}>${d.executionId}</a>` : '—'}</td>
            <td><code>${d.subject}</code></td>
            <td>${d.deliveries}</td>
            <td><${ErrorText} error=${d.error} /></td>
            <td>${time(d.createdAt)}</td>
          </tr>`)}
      </tbody>
    </table>`;
}

// ---------------------------------------------------------------------------------------------
// One execution

const RUNNING = new Set(['planner_running', 'patch_running', 'pr_opening']);
const FAILED = new Set(['planner_failed', 'patch_failed', 'pr_failed']);

function Field({ label, children }) {
  return html`<div><dt>${label}</dt><dd>${children}</dd></div>`;
}

function Diff({ text }) {
  if (!text) return html`<p>No changes.</p>`;
  const highlighted = hljs.highlight(text, { language: 'diff' }).value; // escapes the text
  return html`<pre class="diff" tabindex="0"><code class="hljs language-diff" dangerouslySetInnerHTML=${{ __html: highlighted }} /></pre>`;
}

function AgentSummary({ agent }) {
  if (!agent) return html`<p>Deterministic edits only (no agent run).</p>`;
  return html`
    <dl class="fields compact">
      <${Field} label="Agent outcome">${agent.outcome}<//>
      <${Field} label="Model">${agent.model}<//>
      <${Field} label="Turns / tool calls">${agent.turns} / ${agent.toolCalls}<//>
      <${Field} label="Tokens in / out">${agent.inputTokens} / ${agent.outputTokens}<//>
      <${Field} label="Cost">${agent.costUsd.toFixed(4)} USD<//>
      <${Field} label="Resumes">${agent.resumes}<//>
    </dl>
    <p class="agent-detail"><strong>How the run ended:</strong> ${agent.detail}</p>`;
}

function Conversation({ conversation }) {
  if (!conversation) return null;
  return html`
    <details class="conversation">
      <summary>Agent conversation: ${conversation.turns.length} answer${conversation.turns.length === 1 ? '' : 's'}${conversation.resumes ? `, resumed ${conversation.resumes}×` : ''}</summary>
      <ol>${conversation.turns.map((t) => html`
        <li>
          ${t.text ? html`<p>${t.text}</p>` : null}
          ${t.toolCalls.length
            ? html`<ul class="tools">${t.toolCalls.map((c) => html`<li><code>${c.name}</code>${c.subject ? html` ${c.subject}` : null}${c.isError ? html` <span class="error">(refused or failed)</span>` : null}</li>`)}</ul>`
            : null}
        </li>`)}</ol>
    </details>`;
}

function VersionSection({ version, diff, conversation }) {
  const v = version;
  return html`
    <article class="version" aria-labelledby=${`version-${v.version}`} data-version=${v.version}>
      <h3 id=${`version-${v.version}`}>Version ${v.version}
        <span class=${`badge ${v.approvable ? 'tone-done' : 'tone-failed'}`}>${v.approvable ? 'proof passes' : 'proof fails'}</span></h3>
      <dl class="fields compact">
        <${Field} label="Commit"><code>${v.sha.slice(0, 12)}</code> on <code>${v.baseCommit.slice(0, 12)}</code><//>
        <${Field} label="Made">${time(v.createdAt)}<//>
        <${Field} label="Why">${v.iteration ? `${v.iteration.reason.replace('_', ' ')} (iteration ${v.iteration.number})` : 'first run'}<//>
        <${Field} label="Files">${v.changedPaths.join(', ') || '—'}<//>
      </dl>
      ${v.feedback ? html`<blockquote class="feedback"><strong>Feedback (${v.feedback.source}):</strong> ${v.feedback.text}</blockquote>` : null}
      <${AgentSummary} agent=${v.agent} />
      <${Conversation} conversation=${v.agent ? conversation : null} />
      <h4>Proof of remediation</h4>
      <table>
        <thead><tr><th scope="col">Target</th><th scope="col">Remediated</th><th scope="col">Declared</th><th scope="col">Reason</th></tr></thead>
        <tbody>${v.proof.map((p) => html`<tr><td>${p.target}</td><td>${p.remediated ? 'yes' : 'no'}</td><td>${p.declared.join('; ')}</td><td class="wrap">${p.reason}</td></tr>`)}</tbody>
      </table>
      <h4>Diff</h4>
      ${diff === undefined ? html`<p>Loading the diff of version ${v.version}…</p>` : diff instanceof Error ? html`<${Problem} error=${diff} />` : html`<${Diff} text=${diff} />`}
    </article>`;
}

function Actions({ execution, onDone }) {
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState(null);
  const [feedback, setFeedback] = useState('');
  const approvable = execution.patchVersions.filter((v) => v.approvable);
  const [version, setVersion] = useState('');
  const latest = execution.patchVersions.at(-1);
  const act = async (label, path, body) => {
    setBusy(true);
    setMessage(null);
    try {
      await call(path, { method: 'POST', body });
      setMessage({ ok: true, text: `${label}: accepted.` });
      await onDone();
      return true;
    } catch (error) {
      setMessage({ ok: false, text: `${label}: ${error instanceof ApiError ? `${error.code}: ${error.message}` : error.message}` });
      return false;
    } finally {
      setBusy(false);
    }
  };
  const base = `/v1/executions/${encodeURIComponent(execution.id)}`;
  const canFeedback = latest && (execution.state === 'patch_generated' || execution.state === 'pr_opened');
  const canApprove = approvable.length > 0 && (execution.state === 'patch_generated' || execution.state === 'pr_failed');
  return html`
    <section aria-labelledby="actions-heading">
      <h2 id="actions-heading">Actions</h2>
      <div class="actions">
        ${execution.kind === 'patch'
          ? html`
            <form class="action" onSubmit=${(e) => {
              e.preventDefault();
              void act('Approve', `${base}/pull-requests`, version ? { patchVersion: Number(version) } : {});
            }}>
              <label for="approve-version">Version to open as a pull request</label>
              <select id="approve-version" value=${version} onChange=${(e) => setVersion(e.currentTarget.value)} disabled=${!canApprove}>
                <option value="">latest (${latest ? `version ${latest.version}` : 'none yet'})</option>
                ${approvable.map((v) => html`<option value=${v.version}>version ${v.version}</option>`)}
              </select>
              <button type="submit" disabled=${busy || !canApprove}>Approve and open pull request</button>
            </form>
            <form class="action" onSubmit=${async (e) => {
              e.preventDefault();
              if (await act('Feedback', `${base}/feedback`, { text: feedback })) setFeedback('');
            }}>
              <label for="feedback-text">Feedback on ${latest ? `version ${latest.version}` : 'the latest version'} (starts a new version)</label>
              <textarea id="feedback-text" rows="3" required value=${feedback} onInput=${(e) => setFeedback(e.currentTarget.value)} disabled=${!canFeedback}></textarea>
              <button type="submit" disabled=${busy || !canFeedback || !feedback.trim()}>Send feedback</button>
            </form>`
          : null}
        <div class="action buttons">
          <button type="button" disabled=${busy || !FAILED.has(execution.state)} onClick=${() => act('Retry', `${base}/retry`)}>Retry at the failed step</button>
          <button type="button" class="danger" disabled=${busy || !RUNNING.has(execution.state)}
            onClick=${() => confirm(`Cancel ${execution.id}?`) && act('Cancel', `${base}/cancel`, { reason: 'cancelled in the operator console' })}>Cancel execution</button>
        </div>
      </div>
      <p role="status" class=${message ? (message.ok ? 'ok' : 'problem') : ''}>${message?.text ?? ''}</p>
    </section>`;
}

function Attempts({ attempts, progress }) {
  return html`
    <section aria-labelledby="attempts-heading">
      <h2 id="attempts-heading">Step attempts</h2>
      <table class="attempts">
        <caption>Each claim of a step by a worker, oldest first</caption>
        <thead><tr><th scope="col">Step</th><th scope="col">Worker</th><th scope="col">Delivery</th><th scope="col">Lease</th><th scope="col">Started</th><th scope="col">Last heartbeat</th><th scope="col">Finished</th><th scope="col">Outcome</th><th scope="col">Error</th></tr></thead>
        <tbody>
          ${(attempts ?? []).map((a) => html`
            <tr>
              <td>${a.step}</td>
              <td><code>${a.worker}</code></td>
              <td>${a.deliveryCount}</td>
              <td>${a.attempt}</td>
              <td>${time(a.startedAt)}</td>
              <td>${time(a.heartbeatAt)}</td>
              <td>${time(a.finishedAt)}</td>
              <td>${a.outcome ?? 'running'}</td>
              <td><${ErrorText} error=${a.error} /></td>
            </tr>
            ${a.heartbeats.length
              ? html`<tr class="heartbeats"><td colspan="9">
                  <details>
                    <summary>${a.heartbeats.length} heartbeat${a.heartbeats.length === 1 ? '' : 's'} with details</summary>
                    <ol>${a.heartbeats.map((h) => html`<li><time>${time(h.at)}</time> <strong>${h.event}</strong> <code>${JSON.stringify(h.details)}</code></li>`)}</ol>
                  </details>
                </td></tr>`
              : null}`)}
        </tbody>
      </table>
      ${progress.length
        ? html`<h3>Live progress</h3><ol class="progress" aria-live="polite">${progress.slice(-10).map((p) => html`<li><time>${time(p.at)}</time> ${p.step ?? ''} <strong>${p.event}</strong> <code>${JSON.stringify(p.details)}</code></li>`)}</ol>`
        : null}
    </section>`;
}

function ExecutionPage({ id, graphs }) {
  const [execution, setExecution] = useState(null);
  const [attempts, setAttempts] = useState(null);
  const [conversations, setConversations] = useState([]);
  const [error, setError] = useState(null);
  const [mode, setMode] = useState('connecting');
  const [progress, setProgress] = useState([]);
  const [diffs, setDiffs] = useState({});
  const base = `/v1/executions/${encodeURIComponent(id)}`;

  const refresh = useCallback(async () => {
    try {
      const [x, a, c] = await Promise.all([call(base), call(`${base}/attempts`), call(`${base}/conversations`)]);
      setExecution(x);
      setAttempts(a.attempts);
      setConversations(c.conversations);
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, [base]);

  useEffect(() => {
    setExecution(null);
    setDiffs({});
    setProgress([]);
    void refresh();
    let timer = null;
    let progressTimer = null;
    const stop = followExecution(id, {
      onState: () => void refresh(),
      onProgress: (p) => {
        setProgress((list) => [...list.slice(-49), p]);
        progressTimer ??= setTimeout(() => {
          progressTimer = null;
          void refresh();
        }, 1000);
      },
      onMode: (m) => {
        setMode(m);
        if (m === 'unsupported' && !timer) timer = setInterval(() => void refresh(), POLL_MS);
        if (m === 'stream') void refresh(); // catch up on what happened before the stream opened
      },
    });
    return () => {
      stop();
      if (timer) clearInterval(timer);
      if (progressTimer) clearTimeout(progressTimer);
    };
  }, [id]);

  // Diffs of versions not fetched yet (a version's diff never changes).
  useEffect(() => {
    for (const v of execution?.patchVersions ?? []) {
      if (v.version in diffs) continue;
      setDiffs((d) => ({ ...d, [v.version]: undefined }));
      call(`${base}/diff?version=${v.version}`).then(
        (r) => setDiffs((d) => ({ ...d, [v.version]: r.diff })),
        (err) => setDiffs((d) => ({ ...d, [v.version]: err })),
      );
    }
  }, [execution?.patchVersions.length]);

  if (!execution) {
    return html`<${PageHeading}>Execution ${id}<//>${error ? html`<${Problem} error=${error} />` : html`<p>Loading…</p>`}`;
  }
  const x = execution;
  const liveText = { connecting: 'Connecting…', stream: 'Live: following the event stream', reconnecting: 'Event stream lost, reconnecting…', unsupported: `Live: polling every ${POLL_MS / 1000} s` }[mode];
  return html`
    <${PageHeading}>Execution <code>${x.id}</code><//>
    <p class="live" role="status" data-live-mode=${mode}>${liveText}</p>
    <${Problem} error=${error} />
    <dl class="fields">
      <${Field} label="State"><${StateBadge} state=${x.state} /><//>
      <${Field} label="Step">${x.step ?? '—'}<//>
      <${Field} label="Kind">${x.kind}${x.tier ? ` (${x.tier} tier)` : ''}<//>
      <${Field} label="Remediation"><a href=${`#/executions?remediationId=${encodeURIComponent(x.remediationId)}`}>${x.remediationId}</a><//>
      <${Field} label="Started">${time(x.startedAt)}<//>
      <${Field} label="Completed">${time(x.completedAt)}<//>
      ${x.branchName ? html`<${Field} label="Branch"><code>${x.branchName}</code><//>` : null}
      ${x.error ? html`<${Field} label="Error"><${ErrorText} error=${x.error} /><//>` : null}
    </dl>

    ${x.pullRequests.length
      ? html`<section aria-labelledby="prs-heading">
          <h2 id="prs-heading">Pull requests</h2>
          <ul class="prs">${x.pullRequests.map((pr) => html`
            <li>${pr.url ? html`<a href=${pr.url} class="pr-link" target="_blank" rel="noopener">${pr.repository}#${pr.number}</a>` : `${pr.repository} (opening)`}
              — <${StateBadge} state=${pr.state} /> version ${pr.patchVersion}, <code>${pr.headBranch}</code> → <code>${pr.baseBranch}</code>
              ${pr.lastError ? html` <${ErrorText} error=${pr.lastError} />` : null}</li>`)}</ul>
        </section>`
      : null}

    <section aria-labelledby="machine-heading">
      <h2 id="machine-heading">State machine</h2>
      <${StateDiagram} graph=${graphs?.[x.kind]} state=${x.state} step=${x.step} />
    </section>

    <${Actions} execution=${x} onDone=${refresh} />


    ${x.kind === 'patch'
      ? html`<section aria-labelledby="targets-heading">
          <h2 id="targets-heading">Targets</h2>
          <table>
            <thead><tr><th scope="col">Package</th><th scope="col">From → to</th><th scope="col">Declared</th><th scope="col">Status</th><th scope="col">Reason</th><th scope="col">Advisories</th></tr></thead>
            <tbody>${x.targets.map((t) => html`
              <tr data-target=${t.name}>
                <td>${t.name}${t.ecosystem ? html` <small>(${t.ecosystem})</small>` : null}</td>
                <td>${t.from} → ${t.to}${t.versions ? html`<br /><small>${t.versions.map((v) => `${v.from} → ${v.to}`).join(', ')}</small>` : null}</td>
                <td>${t.declaredFrom ?? '—'} → ${t.declaredTo ?? '—'}</td>
                <td><span class=${`badge status-${t.status}`}>${t.status}</span></td>
                <td class="wrap">${t.reason ?? '—'}</td>
                <td class="wrap">${t.advisories.join(', ')}</td>
              </tr>`)}</tbody>
          </table>
        </section>`
      : null}

    ${x.decision
      ? html`<section aria-labelledby="decision-heading">
          <h2 id="decision-heading">Partial-success decision</h2>
          <p><strong>${x.decision.ship ? 'Ship' : 'Do not ship'}</strong> ${x.decision.targets.join(', ') || 'nothing'} — decided by ${x.decision.decidedBy} at ${time(x.decision.at)}.</p>
          <p>${x.decision.reasoning}</p>
          ${x.decision.overrides.length ? html`<p>Policy overrides: ${x.decision.overrides.join('; ')}</p>` : null}
        </section>`
      : null}

    ${x.kind === 'patch'
      ? html`<section aria-labelledby="versions-heading">
          <h2 id="versions-heading">Patch versions</h2>
          ${x.patchVersions.length === 0 ? html`<p>No version yet.</p>` : null}
          ${[...x.patchVersions].reverse().map((v) => html`<${VersionSection} key=${v.version} version=${v} diff=${diffs[v.version]}
            conversation=${conversations.find((c) => c.iteration === (v.iteration?.number ?? 1))} />`)}
        </section>`
      : null}

    <${Attempts} attempts=${attempts} progress=${progress} />`;
}

// ---------------------------------------------------------------------------------------------
// The shell

function App() {
  const route = useRoute();
  const graphs = useGraphs();
  const [key, setKey] = useState(apiKey());
  const [reason, setReason] = useState(null);
  useEffect(() => {
    const onUnauthenticated = (e) => {
      setReason(`The API refused the key: ${e.detail ?? 'unauthenticated'}. Enter a valid key.`);
      setKey(null);
    };
    window.addEventListener('console:unauthenticated', onUnauthenticated);
    return () => window.removeEventListener('console:unauthenticated', onUnauthenticated);
  }, []);
  if (!key) {
    return html`<${KeyForm} reason=${reason} onKey=${(k) => {
      setApiKey(k);
      setReason(null);
      setKey(k);
    }} />`;
  }
  const nav = [
    ['executions', '#/executions', 'Executions'],
    ['remediations', '#/remediations', 'Remediations'],
    ['dead-letters', '#/dead-letters', 'Dead letters'],
  ];
  const current = route.page === 'execution' ? 'executions' : route.page;
  return html`
    <a class="skip" href="#main" onClick=${(e) => {
      e.preventDefault();
      document.querySelector('#main h1')?.focus();
    }}>Skip to content</a>
    <header class="top">
      <span class="brand">Remediation console</span>
      <nav aria-label="Sections">
        <ul>${nav.map(([page, href, label]) => html`<li><a href=${href} aria-current=${current === page ? 'page' : undefined}>${label}</a></li>`)}</ul>
      </nav>
      <button type="button" class="secondary" onClick=${() => {
        setApiKey(null);
        setKey(null);
      }}>Forget API key</button>
    </header>
    <main id="main">
      ${route.page === 'execution'
        ? html`<${ExecutionPage} key=${route.id} id=${route.id} graphs=${graphs} />`
        : route.page === 'remediations'
          ? html`<${RemediationsPage} />`
          : route.page === 'dead-letters'
            ? html`<${DeadLettersPage} />`
            : html`<${ExecutionsPage} key=${String(route.params)} params=${route.params} graphs=${graphs} />`}
    </main>`;
}

const root = document.getElementById('app');
root.textContent = ''; // the "Loading" text (Preact 11 renders next to what is there)
render(html`<${App} />`, root);
