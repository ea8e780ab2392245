import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScriptTurn } from '@remediation/messages-api-local';
import { repoRoot } from '@remediation/testing';
import { type TestEnvironment, startTestEnvironment } from '../support/environment.js';
import { type ScriptedModel, scriptedModel } from '../support/scripted-model.js';
import { api, createJwtRemediation, startPatch } from '../support/flows.js';

/**
 * The operator console in a real browser (Debian's chromium, headless, driven by playwright-core)
 * against every service as its own process, the real PostgreSQL, a private nats-server, real git
 * and the local GitHub; the code-fix agent talks to messages-api-local. The page is opened while
 * the agent is held, so the test watches the execution move from patch_running to patch_generated
 * without reloading; then it reads the diff, sends feedback through the page and sees version 2,
 * approves and sees the pull request's link. Screenshots of the main pages go to docs/images/
 * (docs/operations.md "Console").
 */
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const IMAGES = join(repoRoot, 'docs', 'images');
const VIEWPORT = { width: 1366, height: 900 }; // a common laptop screen

let env: TestEnvironment;
let model: ScriptedModel;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  model = await scriptedModel();
  env = await startTestEnvironment('console', { ACK_WAIT_MS: '5000', RECONCILE_STALE_MS: '300000' }, { serviceEnv: { patcher: model.env() } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: VIEWPORT });
  mkdirSync(IMAGES, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await model?.close();
  await env?.close();
}, 60_000);

const shot = (name: string, fullPage = false) => page.screenshot({ path: join(IMAGES, `console-${name}.png`), fullPage });

/** The agent's answers for version 1: the first is held until `release` resolves. */
function firstVersionScript(release: Promise<void>): ScriptTurn[] {
  return [
    async () => {
      await release;
      return {
        content: [
          {
            type: 'tool_use',
            name: 'edit_file',
            input: { path: 'lib/insecurity.js', old_string: 'expressJwt({ secret: publicKey })', new_string: "expressJwt({ secret: publicKey, algorithms: ['RS256'] })" },
          },
        ],
      };
    },
    { content: [{ type: 'tool_use', name: 'report_outcome', input: { target: 'express-jwt', status: 'success', reason: 'passes algorithms: [RS256], now mandatory in express-jwt 6' } }] },
    { content: [{ type: 'text', text: 'express-jwt 6 now gets the algorithms it requires.' }] },
  ];
}

describe('the operator console', () => {
  let executionId: string;

  it('asks for the API key with a labelled form, and lists executions with their states', async () => {
    await page.goto(`${env.stack.apiUrl}/console`);
    await page.getByLabel('API key').fill(env.stack.apiKey);
    await page.getByRole('button', { name: 'Use this key' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Executions');
    // A wrong key is refused by the API and the form comes back saying so.
    await page.evaluate(() => sessionStorage.setItem('remediation.console.apiKey', 'rk_wrong'));
    await page.reload();
    await expect.poll(() => page.getByRole('alert').first().textContent()).toContain('refused the key');
    await page.getByLabel('API key').fill(env.stack.apiKey);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Executions');
  }, 60_000);

  it('shows an execution live: patch_running, then patch_generated without a reload, with targets, attempts and the highlighted diff', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const server = await model.use(firstVersionScript(held));
    const { remediationId } = await createJwtRemediation(env);
    executionId = await startPatch(env, remediationId, { tier: 'minimal' });

    // From the list, filtered by state and kind, to the execution's page.
    await page.goto(`${env.stack.apiUrl}/console/#/executions`);
    await page.getByLabel('State').selectOption('patch_running');
    await page.getByLabel('Kind').selectOption('patch');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('link', { name: executionId }).click();
    await expect.poll(() => page.locator('svg[data-current-state]').getAttribute('data-current-state'), { timeout: 30_000 }).toBe('patch_running');
    expect(await page.locator('g[data-current="true"]').getAttribute('data-state')).toBe('patch_running');
    // Focus moves to the page's heading, so keyboard users start there.
    expect(await page.evaluate('document.activeElement?.tagName')).toBe('H1');
    expect(['stream', 'unsupported']).toContain(await page.locator('[data-live-mode]').getAttribute('data-live-mode'));
    // The agent is held in the editing step: its attempt is listed while it runs.
    await expect.poll(() => page.locator('table.attempts tbody').textContent(), { timeout: 30_000 }).toContain('editing');
    await page.evaluate('window.consoleMarker = 1');
    await shot('execution-running');

    release();
    await expect.poll(() => page.locator('svg[data-current-state]').getAttribute('data-current-state'), { timeout: 120_000 }).toBe('patch_generated');
    expect(await page.evaluate('window.consoleMarker')).toBe(1); // same page, not reloaded

    const jwtRow = page.locator('tr[data-target="express-jwt"]');
    await expect.poll(() => jwtRow.textContent()).toContain('0.1.3 → 6.0.0');
    expect(await jwtRow.textContent()).toContain('success');
    const diff = page.locator('[data-version="1"] pre.diff');
    await expect.poll(() => diff.textContent(), { timeout: 30_000 }).toContain("algorithms: ['RS256']");
    expect(await diff.textContent()).toContain('"express-jwt": "6.0.0"');
    expect(await diff.locator('.hljs-addition').count()).toBeGreaterThan(0); // highlighted, not plain text
    // The agent's conversation, summarised: its last answer and its tool calls.
    const v1 = page.locator('[data-version="1"]');
    await v1.locator('details.conversation summary').click();
    expect(await v1.locator('details.conversation').textContent()).toContain('express-jwt 6 now gets the algorithms it requires.');
    expect(await v1.locator('details.conversation').textContent()).toContain('edit_file lib/insecurity.js');
    expect(await v1.textContent()).toContain('Turns / tool calls3 / 2');
    expect(await page.locator('table.attempts tbody').textContent()).toContain('succeeded');
    // Heartbeats with details: the agent's tool calls.
    await page.locator('table.attempts details summary').first().click();
    expect(await page.locator('table.attempts').textContent()).toContain('"tool":"edit_file"');
    server.assertDone();
    await shot('execution', true);
  }, 240_000);

  it('sends feedback from the page and shows version 2 with its diff', async () => {
    const server = await model.use([
      {
        expect: (r) => expect(JSON.stringify(r.body?.messages ?? [])).toContain('our tokens are signed with a shared secret'),
        content: [{ type: 'tool_use', name: 'edit_file', input: { path: 'lib/insecurity.js', old_string: "algorithms: ['RS256']", new_string: "algorithms: ['HS256']" } }],
      },
      { content: [{ type: 'tool_use', name: 'report_outcome', input: { target: 'express-jwt', status: 'success', reason: 'HS256, as the reviewer asked' } }] },
      { content: [{ type: 'text', text: 'Switched to HS256.' }] },
    ]);
    await page.getByLabel('Feedback on version 1 (starts a new version)').fill('Use HS256: our tokens are signed with a shared secret.');
    await page.getByRole('button', { name: 'Send feedback' }).click();
    const v2 = page.locator('[data-version="2"]');
    await expect.poll(() => v2.count(), { timeout: 120_000 }).toBe(1);
    await expect.poll(() => v2.locator('pre.diff').textContent(), { timeout: 30_000 }).toContain("algorithms: ['HS256']");
    expect(await v2.textContent()).toContain('Use HS256: our tokens are signed with a shared secret.');
    expect(await v2.textContent()).toContain('user feedback (iteration 2)');
    expect(await page.locator('svg[data-current-state]').getAttribute('data-current-state')).toBe('patch_generated');
    server.assertDone();
  }, 180_000);

  it('approves from the page and shows the pull request link', async () => {
    await page.getByRole('button', { name: 'Approve and open pull request' }).click();
    const link = page.locator('a.pr-link');
    await expect.poll(() => link.count(), { timeout: 120_000 }).toBe(1);
    await expect.poll(() => page.locator('svg[data-current-state]').getAttribute('data-current-state'), { timeout: 60_000 }).toBe('pr_opened');
    const view = (await api(env, `/v1/executions/${executionId}`)).body;
    expect(view.pullRequests).toHaveLength(1);
    expect(view.pullRequests[0]).toMatchObject({ patchVersion: 2, state: 'open' });
    expect(await link.getAttribute('href')).toBe(view.pullRequests[0].url);
    await page.evaluate('window.scrollTo(0, 0)'); // the pull request is listed at the top
    await shot('execution-pr-opened');
  }, 180_000);

  it('lists remediations and dead letters; every form control has a label; the skip link is the first stop and leads to the heading', async () => {
    await page.goto(`${env.stack.apiUrl}/console/#/executions`);
    await expect.poll(() => page.locator('table tbody tr').count()).toBeGreaterThanOrEqual(2);
    await shot('executions');
    await page.getByRole('link', { name: 'Remediations' }).click();
    await expect.poll(() => page.locator('table tbody').textContent()).toContain('jwt-app.git');
    await shot('remediations');
    await page.getByRole('link', { name: 'Dead letters' }).click();
    await expect.poll(() => page.locator('table caption').textContent()).toMatch(/dead letters?, newest first/);
    await shot('dead-letters');
    await page.goto(`${env.stack.apiUrl}/console/#/executions/${encodeURIComponent(executionId)}`);
    await expect.poll(() => page.locator('[data-version="2"]').count(), { timeout: 30_000 }).toBe(1);
    // (Browser-side expressions as strings: this project's TypeScript has no DOM types.)
    const unlabelled = await page.evaluate(
      "[...document.querySelectorAll('input, select, textarea')].filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label')).map((el) => el.outerHTML)",
    );
    expect(unlabelled).toEqual([]);
    // The skip link is the first stop of the keyboard and leads to the page's heading.
    expect(await page.evaluate(`document.querySelector('a[href], button, input, select, textarea, [tabindex="0"]')?.textContent`)).toBe('Skip to content');
    await page.locator('a.skip').focus();
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement?.tagName')).toBe('H1');
  }, 120_000);
});
