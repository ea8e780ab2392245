import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

/**
 * Lint: TypeScript rules plus Nx module boundaries. Apps import libs only through each lib's
 * index (`@remediation/<lib>`), libs never import apps, tools are for dev/test only, and import
 * cycles are errors.
 */
export default [
  // evaluation/cases/*/files/ hold other projects' code as the agent's evaluation input (not ours).
  { ignores: ['**/node_modules/**', '.tools/**', '.work/**', '.data/**', 'dist/**', '.nx/**', 'evaluation/cases/*/files/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
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
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.spec.ts', 'test/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': 'off' },
  },
];
