import { describe, expect, it } from 'vitest';
import { CdxBom, CdxComponent, CdxDependency, componentsMeetSchema, dependenciesMeetSchema, safeParseBom } from './cyclonedx-schema.js';

/** The copy-free checks of the large arrays (safeParseBom) never accept what the zod schemas refuse. */
describe('componentsMeetSchema / dependenciesMeetSchema', () => {
  const component = { type: 'library', name: 'a', version: '1.0.0', purl: 'pkg:npm/a@1.0.0', 'bom-ref': 'a@1', extra: { any: 1 } };
  const components: unknown[] = [
    component,
    { type: 'library', name: 'b' },
    { ...component, components: [{ type: 'library', name: 'c' }] },
    { ...component, type: '' },
    { ...component, name: 7 },
    { ...component, group: null },
    { ...component, version: 1 },
    { ...component, purl: [] },
    { ...component, 'bom-ref': '' },
    { ...component, components: {} },
    { ...component, components: [{ type: 'library' }] },
    { name: 'no-type' },
    [component],
    null,
    'a',
  ];
  const dependencies: unknown[] = [
    { ref: 'a' },
    { ref: 'a', dependsOn: [] },
    { ref: 'a', dependsOn: ['b', 'c'], extra: true },
    { ref: '' },
    { ref: 'a', dependsOn: 'b' },
    { ref: 'a', dependsOn: ['b', 3] },
    { dependsOn: ['b'] },
    [],
    null,
  ];

  it('accepts exactly the valid cases here, and nothing zod refuses', () => {
    const accepted = components.map((c) => componentsMeetSchema([c]));
    expect(accepted).toEqual(components.map((c) => CdxComponent.safeParse(c).success));
    expect(accepted.filter(Boolean)).toHaveLength(3);
    const acceptedDeps = dependencies.map((d) => dependenciesMeetSchema([d]));
    expect(acceptedDeps).toEqual(dependencies.map((d) => CdxDependency.safeParse(d).success));
    expect(acceptedDeps.filter(Boolean)).toHaveLength(3);
    expect(componentsMeetSchema({})).toBe(false);
    expect(dependenciesMeetSchema('x')).toBe(false);
  });

  it('safeParseBom keeps the document arrays when they meet the schema and gives zod\'s issues when not', () => {
    const doc = { bomFormat: 'CycloneDX', specVersion: '1.5', components: [component], dependencies: [{ ref: 'a@1', dependsOn: [] }] };
    const fast = safeParseBom(doc);
    expect(fast.success && fast.data.components).toBe(doc.components);
    expect(fast.success && fast.data.dependencies).toBe(doc.dependencies);
    const bad = { ...doc, components: [component, { ...component, name: 7 }], version: 'x' };
    const slow = safeParseBom(bad);
    expect(slow.success).toBe(false);
    expect(!slow.success && slow.error.issues).toEqual(CdxBom.safeParse(bad).error!.issues);
    // The rest of the document is still zod's to check when the arrays pass.
    const restBad = safeParseBom({ ...doc, version: 'x' });
    expect(!restBad.success && restBad.error.issues.map((i) => i.path)).toEqual([['version']]);
  });
});
