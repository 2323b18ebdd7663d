// `npm run lint`: neostandard (the style fastify and fastify/demo use), for TypeScript.
import neostandard, { resolveIgnoresFromGitignore } from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: [...resolveIgnoresFromGitignore(), 'generated/**'],
  }),
  {
    rules: {
      // `void promise` marks a promise deliberately not awaited (the client's compile-only checks).
      'no-void': ['error', { allowAsStatement: true }],
      // Tests stop load loops from other async tasks (`while (writing)`), which this rule cannot see.
      'no-unmodified-loop-condition': 'off',
    },
  },
]
