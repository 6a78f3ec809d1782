// `npm run lint`: neostandard (the JavaScript Standard Style, for TypeScript too), the style the code is written in.
import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'docs/api/**', 'coverage/**', 'bench/node_modules/**', 'bench/results/**', 'build-check/**', '.tmp/**']
  }),
  {
    rules: {
      // `void promise` marks a promise deliberately left to run on its own (its errors handled inside).
      'no-void': ['error', { allowAsStatement: true }],
      // A subscription declared before the callbacks that end it, assigned once after: `const` cannot hold it.
      'prefer-const': ['error', { destructuring: 'all', ignoreReadBeforeAssign: true }],
      // A name that says which promise (`resolveClose`, `done`) reads better inside another promise's executor.
      'promise/param-names': 'off'
    }
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { varsIgnorePattern: '^_', argsIgnorePattern: '^_' }]
    }
  },
  {
    files: ['spec/**', 'scripts/**', 'bench/**'],
    rules: {
      // Loops of attack and soak tools run until a flag set by another task (`while (running)`): the rule cannot
      // see an assignment made across an await.
      'no-unmodified-loop-condition': 'off'
    }
  }
]
