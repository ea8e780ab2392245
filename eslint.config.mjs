import nx from '@nx/eslint-plugin';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/**
 * Lint: TypeScript rules plus Nx module boundaries. Apps import libs only through each lib's
 * index (`@remediation/<lib>`), libs never import apps, tools are for dev/test only, and import
 * cycles are errors: `import-x/no-cycle` follows every file-level import (relative `.js`
 * specifiers resolve to the `.ts` source, `@remediation/*` through tsconfig.base.json paths).
 */
export default [
  // evaluation/cases/*/files/ hold other projects' code as the agent's evaluation input (not ours).
  { ignores: ['**/node_modules/**', '.tools/**', '.work/**', '.data/**', 'dist/**', '.nx/**', 'evaluation/cases/*/files/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx, 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.mts', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.mts'] },
      'import-x/resolver-next': [
        createNodeResolver({
          extensions: ['.ts', '.mts', '.js', '.mjs', '.json'],
          extensionAlias: { '.js': ['.ts', '.js'], '.mjs': ['.mts', '.mjs'] },
          tsconfig: { configFile: new URL('./tsconfig.base.json', import.meta.url).pathname },
        }),
      ],
    },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          enforceBuildableLibDependency: false,
          banTransitiveDependencies: false,
          checkDynamicDependenciesExceptions: [],
          depConstraints: [
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib', 'type:tool'] },
          ],
        },
      ],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Tests and their support code may use the dev tools (local servers) and any lib.
    files: ['**/*.spec.ts', 'test/**/*.ts', 'apps/*/test-support/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': 'off' },
  },
];
