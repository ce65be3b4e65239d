// Lint: no floating promises anywhere; workflow code stays deterministic.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

// Everything a workflow must never import: Node built-ins and the libraries that do I/O.
// The Temporal bundler refuses most of these at run time; lint catches them before a worker starts.
const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`, `${m}/*`, `node:${m}/*`]);
const ioLibraries = [
  'ssh2', 'ssh2/*', 'cassandra-driver', 'cassandra-driver/*', '@aws-sdk/*', 'ini', 'commander',
  '@temporalio/activity', '@temporalio/client', '@temporalio/worker', '@temporalio/testing',
  '@temporalio/envconfig',
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'coverage/**', '.sandbox/**', 'reports/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: nodeBuiltins.filter((m) => !m.includes('*')).map((name) => ({
          name, message: 'Workflow code is deterministic: do I/O in src/activities/.',
        })),
        patterns: [{
          group: [...nodeBuiltins.filter((m) => m.includes('*')), ...ioLibraries],
          message: 'Workflow code is deterministic: do I/O in src/activities/ (import activity types with `import type`).',
        }],
      }],
      'no-restricted-globals': ['error',
        { name: 'process', message: 'Workflows must not read the process environment.' },
        { name: 'require', message: 'Use static imports of pure modules only.' },
      ],
      'no-restricted-syntax': ['error', {
        selector: "ImportDeclaration[importKind!='type'][source.value=/activities/]",
        message: 'Import activities into workflows as types only (import type).',
      }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: { require: 'readonly', module: 'writable', process: 'readonly', __dirname: 'readonly', console: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
