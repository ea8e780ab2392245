import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '@remediation/testing';
import { type TestEnvironment, makeRemote, startTestEnvironment } from '../support/environment.js';
import { api, waitFor } from '../support/flows.js';

/**
 * Issue 11, "bad scans never vanish silently", through the running stack: a scan whose
 * components have unreadable versions or purls, a renamed component and an unknown affects ref
 * is planned; the plan read through the API lists each one in its warnings (by bom-ref and
 * name, with the reason), a vulnerable component whose version cannot be read is a target that
 * needs a person, and the renamed one is planned under its purl's name.
 */
let env: TestEnvironment;

beforeAll(async () => {
  env = await startTestEnvironment('scans');
}, 180_000);

afterAll(async () => {
  await env?.close();
}, 60_000);

const library = (ref: string, name: string, version: string | undefined, purl: string | undefined) => ({
  type: 'library',
  'bom-ref': ref,
  name,
  ...(version !== undefined ? { version } : {}),
  ...(purl !== undefined ? { purl } : {}),
});

async function plan(scan: Record<string, unknown>) {
  const bare = await makeRemote(env.reposRoot, `scans${Date.now().toString(36)}`, 'app', {
    'package.json': readFileSync(fixturePath('manifests/express-4.19.2/package.json'), 'utf8'),
  });
  const created = await api(env, '/v1/remediations', { method: 'POST', body: JSON.stringify({ codebase: { repository: bare }, scan }) });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const view = await waitFor(env, `/v1/remediations/${created.body.id}`, (b) => b.state === 'plan_generated' || b.state === 'planner_failed');
  expect(view.state).toBe('plan_generated');
  return { ...view.plan, remediationId: created.body.id as string };
}

describe('bad scans never vanish silently', () => {
  const components = [
    library('c-latest', 'cookie', 'latest', 'pkg:npm/cookie'),
    library('ms-empty', 'ms', '', 'pkg:npm/ms'),
    library('qs-nav', 'qs', 'not-a-version', 'pkg:npm/qs'),
    library('vary-missing', 'vary', undefined, 'pkg:npm/vary'),
    library('etag-badpurl', 'etag', '1.8.1', 'pkg:'),
    library('renamed', 'our-send-fork', '0.18.0', 'pkg:npm/send@0.18.0'),
  ];
  const base = {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    metadata: { component: { type: 'application', name: 'app', version: '1.0.0', 'bom-ref': 'app' } },
    components,
    dependencies: [{ ref: 'app', dependsOn: components.map((c) => c['bom-ref']) }],
  };

  it('OSV mode: every unreadable component is a warning; cookie@latest needs a person; the renamed send is planned', async () => {
    const p = await plan(base);
    expect(p.warnings).toEqual(
      expect.arrayContaining([
        'component "c-latest" (cookie) cannot be planned: version "latest" is not a semver version',
        'component "ms-empty" (ms) cannot be planned: its version is empty',
        'component "qs-nav" (qs) cannot be planned: version "not-a-version" is not a semver version',
        'component "vary-missing" (vary) cannot be planned: the scan gives no version (neither `version` nor the purl)',
        expect.stringMatching(/^component "etag-badpurl" \(etag\) cannot be planned: purl "pkg:" could not be parsed/),
        '1 npm component(s) named differently from their purl, matched by the purl: renamed ("our-send-fork" is send)',
      ]),
    );
    const cookie = p.targets.find((t: any) => t.name === 'cookie');
    expect(cookie).toMatchObject({
      status: 'needs_person',
      currentVersion: 'latest',
      reason: expect.stringMatching(/^version "latest" is not a semver version; \d+ known advisory\(ies\) of cookie may apply$/),
      tiers: { minimal: null, moderate: null, comprehensive: null },
    });
    expect(p.targets.find((t: any) => t.name === 'send')).toMatchObject({
      status: 'planned',
      currentVersion: '0.18.0',
      tiers: { minimal: { version: '0.19.0' } },
    });
  });

  it('scan mode: a reported component whose version cannot be read needs a person (skipped by executions); an unknown affects ref is named', async () => {
    const p = await plan({
      ...base,
      vulnerabilities: [
        { id: 'GHSA-pxg6-pf52-xh8x', affects: [{ ref: 'c-latest' }, { ref: 'no-such-component' }] },
        { id: 'GHSA-m6fv-jmcg-4jfg', affects: [{ ref: 'renamed' }] },
      ],
    });
    expect(p.sources.advisories).toBe('scan');
    expect(p.warnings).toContain(
      '1 vulnerability affects-reference(s) name bom-refs that are not in the scan: GHSA-pxg6-pf52-xh8x → "no-such-component"',
    );
    expect(p.targets.map((t: any) => [t.name, t.status])).toEqual([
      ['cookie', 'needs_person'],
      ['send', 'planned'],
    ]);
    expect(p.targets[0].advisories.map((a: any) => a.id)).toEqual(['GHSA-pxg6-pf52-xh8x']);
    // An execution of the plan skips the target that needs a person, saying why.
    const execution = await api(env, `/v1/remediations/${p.remediationId}/executions`, { method: 'POST', body: JSON.stringify({ tier: 'minimal' }) });
    expect(execution.status, JSON.stringify(execution.body)).toBe(202);
    expect(execution.body.targets.find((t: any) => t.name === 'cookie')).toMatchObject({
      status: 'skipped',
      reason: 'needs a person: version "latest" is not a semver version',
    });
    await api(env, `/v1/executions/${execution.body.id}/cancel`, { method: 'POST', body: JSON.stringify({ reason: 'test done' }) });
  });
});
