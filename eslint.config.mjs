// ESLint flat config: typescript-eslint's recommended type-checked rules over
// the library, CLIs, tests, benchmark and e2e harness (they read the types, so
// a promise left floating or an `any` spreading is an error), the boundaries
// between folders, and the recommended rules for the plain Node scripts.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// node:test's test() and describe() return promises that the runner awaits itself.
const nodeTestCalls = {
  from: 'package',
  package: 'node:test',
  name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
};

// Folder boundaries (lib/README in the design): the view is drawn on top of
// the library, never below it, and the graph engine sits behind lib/train/.
// The tests, the benchmark and the e2e harness stand outside them: they test
// and time the engine and the view themselves.
const viewImport = {
  group: ['**/view', '**/view/*'],
  message: 'lib/view/ is imported only by the CLIs, the notebooks and lib/index.ts; return data and let the caller draw it.',
};
const graphImport = {
  group: ['**/graph', '**/graph/*'],
  message: 'lib/graph/ is the engine behind lib/train/: import it only from lib/train/ and lib/index.ts.',
};

// lib/train/ uses the engine through its index, lib/graph/index.ts, the
// engine's one door: its files may change shape without the trainer noticing.
const graphInternalsImport = {
  group: ['**/graph/*'],
  message: 'import the graph engine through lib/graph (its index.ts), not its files.',
};

// The page (demo/) is drawn like the CLIs, but its bundle runs in a browser:
// of lib/view/ it takes only the words, which import nothing.
const viewImportButText = { ...viewImport, group: ['**/view/*', '!**/view/text'] };

// The model code and the page's pure modules also run in the browser (demo/).
const browserImport = {
  group: ['**/tf', 'node:*', '@tensorflow/tfjs-node'],
  message: 'lib/model/ and the page\'s modules run in the browser too: import @tensorflow/tfjs itself, not lib/tf.ts, and no Node module.',
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'dist-exp/**',
      'node_modules/**',
      '.venv/**',
      'bench/results/**',
      'notebooks/**',
    ],
  },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [nodeTestCalls] }],
    },
  },
  {
    // Tests read run.json and model.json as plain JSON and corrupt them on
    // purpose; typing each fixture would add casts, not safety.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['lib/**/*.ts'],
    ignores: ['lib/view/**', 'lib/index.ts', 'lib/train/**', 'lib/graph/**'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: [viewImport, graphImport] }] },
  },
  {
    files: ['lib/model/**/*.ts', 'lib/demo/preprocess.ts', 'lib/demo/readings.ts', 'lib/demo/site-data.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: [viewImport, graphImport, browserImport] }] },
  },
  {
    files: ['demo/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: [viewImportButText, graphImport, browserImport] }] },
  },
  {
    files: ['lib/train/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: [viewImport, graphInternalsImport] }] },
  },
  {
    files: ['lib/graph/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: [viewImport] }] },
  },
  {
    files: ['bin/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: [graphImport] }] },
  },
  {
    files: ['scripts/**/*.js'],
    extends: [js.configs.recommended, tseslint.configs.disableTypeChecked],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { ...globals.node },
    },
  },
);
