// Lint: the checks the compiler does not make (promises nobody awaits, promises where a callback is
// expected) and the layer rules of the project guide, as import restrictions per folder.
import tseslint from 'typescript-eslint';

/** `no-restricted-imports` patterns for a layer: the folders it must not reach into. */
const forbid = (...folders) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: folders.map((f) => ({
        group: [`**/${f}/*`, `**/${f}/**`],
        message: `this layer does not import src/${f} (see "Architecture" in the README)`,
      })),
    },
  ],
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.ci/**', 'coverage/**'] },
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    languageOptions: { parser: tseslint.parser, parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      // node:test's test() returns a promise the runner itself awaits
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
    },
  },
  // Nothing in the library exits the process: only the CLI, and the entry points of the processes
  // Castle starts (the S3 endpoint, the blog), decide an exit code.
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**', 'src/s3/daemon.ts', 'src/targets/local/blog/main.ts'],
    rules: { 'no-restricted-properties': ['error', { object: 'process', property: 'exit', message: 'return a Result or throw; only src/cli exits' }] },
  },
  { files: ['src/core/**/*.ts'], rules: forbid('cli', 'engine', 'targets', 'sinks', 'data', 's3', 'secrets', 'validate', 'spec', 'plan') },
  { files: ['src/engine/**/*.ts'], rules: forbid('cli', 'targets', 'sinks', 'data', 's3', 'validate') },
  { files: ['src/spec/**/*.ts', 'src/plan/**/*.ts'], ignores: ['src/spec/write-schema.ts'], rules: forbid('cli', 'engine', 'targets', 'sinks', 'data', 's3') },
  { files: ['src/sinks/**/*.ts'], rules: forbid('cli', 'engine', 'targets', 'data', 's3') },
  { files: ['src/data/**/*.ts'], rules: forbid('cli', 'targets', 's3', 'sinks', 'engine') },
  { files: ['src/s3/**/*.ts'], rules: forbid('cli', 'targets', 'data', 'sinks', 'engine') },
  { files: ['src/os/**/*.ts', 'src/secrets/**/*.ts', 'src/diag/**/*.ts'], rules: forbid('cli', 'targets', 'data', 's3', 'sinks', 'engine') },
  { files: ['src/targets/**/*.ts', 'src/validate/**/*.ts'], rules: forbid('cli', 'sinks') },
);
