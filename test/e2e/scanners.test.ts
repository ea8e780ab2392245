import { readFileSync } from 'node:fs';
import { fixturePath } from '@remediation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestEnvironment, makeRemote, startTestEnvironment } from '../support/environment.js';
import { api, startPatch, waitFor, waitSettled } from '../support/flows.js';

/**
 * Issue 12: a Trivy, a Grype and an OSV-Scanner report each drive a remediation end to end (the
 * five services as processes, the real PostgreSQL, nats-server, git): create the remediation
 * with the report as the scan → plan from the vulnerabilities it carries → patch execution →
 * `patch_generated` with the expected bump in package.json. Reports: test/fixtures/scans
 * (test/fixtures/PROVENANCE.md).
 */
let env: TestEnvironment;

beforeAll(async () => {
  env = await startTestEnvironment('scanners');
}, 180_000);

afterAll(async () => {
  await env?.close();
}, 60_000);

const CASES = [
  {
    scanner: 'Trivy JSON',
    file: 'trivy-npm-native.json',
    // The report's direct dependencies (nothing in it depends on them).
    dependencies: { jquery: '3.3.9', promise: '8.0.3', react: '16.8.6', redux: '4.0.1' },
    // CVE-2019-11358 is GHSA-6c3j-c64m-qhgq (<3.4.0); the OSV directory's other jquery advisories
    // (GHSA-gxr4, GHSA-jpcq, <3.5.0) make 3.5.0 the first version free of all.
    bump: { name: 'jquery', from: '3.3.9', to: '3.5.0', advisory: 'GHSA-6c3j-c64m-qhgq' },
  },
  {
    scanner: 'Grype JSON',
    file: 'grype-npm-cookie.json',
    dependencies: { cookie: '0.6.0' },
    bump: { name: 'cookie', from: '0.6.0', to: '0.7.0', advisory: 'GHSA-pxg6-pf52-xh8x' },
  },
  {
    scanner: 'OSV-Scanner JSON',
    file: 'osv-scanner-npm-send.json',
    dependencies: { send: '0.18.0' },
    bump: { name: 'send', from: '0.18.0', to: '0.19.0', advisory: 'GHSA-m6fv-jmcg-4jfg' },
  },
] as const;

describe('scanner reports drive a remediation end to end', () => {
  it.each(CASES)('$scanner ($file): plan from its vulnerabilities, patch_generated bumping $bump.name', async ({ file, dependencies, bump }) => {
    const owner = `scan${file.split('-')[0]}x${Date.now().toString(36)}`;
    const manifest = `${JSON.stringify({ name: 'app', version: '1.0.0', private: true, dependencies }, null, 2)}\n`;
    const bare = await makeRemote(env.reposRoot, owner, 'app', { 'package.json': manifest });
    const scan = JSON.parse(readFileSync(fixturePath(`scans/${file}`), 'utf8'));
    const created = await api(env, '/v1/remediations', { method: 'POST', body: JSON.stringify({ codebase: { repository: bare }, scan }) });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const remediationId = created.body.id as string;

    await waitFor(env, `/v1/remediations/${remediationId}`, (b) => b.state === 'plan_generated' || b.state === 'planner_failed');
    const plan = (await api(env, `/v1/remediations/${remediationId}`)).body;
    expect(plan.state).toBe('plan_generated');
    const planOutput = plan.plan;
    expect(planOutput.sources.advisories).toBe('scan');
    expect(planOutput.targets.map((t: any) => t.name)).toEqual([bump.name]);
    expect(planOutput.targets[0]).toMatchObject({ currentVersion: bump.from, tiers: { minimal: { version: bump.to } } });
    expect(planOutput.targets[0].advisories.map((a: any) => a.id)).toContain(bump.advisory);

    const executionId = await startPatch(env, remediationId, { tier: 'minimal' });
    const done = await waitSettled(env, executionId);
    expect(done.state).toBe('patch_generated');
    expect(done.targets.map((t: any) => [t.name, t.from, t.to, t.status])).toEqual([[bump.name, bump.from, bump.to, 'success']]);
    const diff = (await api(env, `/v1/executions/${executionId}/diff`)).body.diff as string;
    expect(diff).toContain(`-    "${bump.name}": "${bump.from}"`);
    expect(diff).toContain(`+    "${bump.name}": "${bump.to}"`);
  }, 180_000);

  it('CycloneDX XML, sent as a string: planned against the OSV directory, patch_generated', async () => {
    const owner = `xml${Date.now().toString(36)}`;
    const manifest = `${JSON.stringify({ name: 'app', version: '1.0.0', private: true, dependencies: { cookie: '0.6.0' } }, null, 2)}\n`;
    const bare = await makeRemote(env.reposRoot, owner, 'app', { 'package.json': manifest });
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1">
  <metadata><component type="application" bom-ref="app"><name>app</name><version>1.0.0</version></component></metadata>
  <components><component type="library" bom-ref="pkg:npm/cookie@0.6.0"><name>cookie</name><version>0.6.0</version><purl>pkg:npm/cookie@0.6.0</purl></component></components>
  <dependencies><dependency ref="app"><dependency ref="pkg:npm/cookie@0.6.0"/></dependency></dependencies>
</bom>
`;
    const created = await api(env, '/v1/remediations', { method: 'POST', body: JSON.stringify({ codebase: { repository: bare }, scan: xml }) });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const executionId = await startPatch(env, created.body.id, { tier: 'minimal' });
    const plan = (await api(env, `/v1/remediations/${created.body.id}`)).body.plan;
    expect(plan.sources.advisories).toBe('osv');
    const done = await waitSettled(env, executionId);
    expect(done.state).toBe('patch_generated');
    expect(done.targets.map((t: any) => [t.name, t.from, t.to])).toEqual([['cookie', '0.6.0', '0.7.0']]);
  }, 180_000);
});
