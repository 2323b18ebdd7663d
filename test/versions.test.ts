// The contract's versions side by side: v1 frozen as its clients know it, every later version a superset of its
// operations, and the facts the server shares between versions (its problems) the same in each.
// stores: none
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { CONTRACT_VERSIONS, specPath } from '../src/contract/spec.js'
import { contracts } from './contract.js'

// v1 is frozen: clients generated from it (the seed's first) refuse any field, enum value or bound they do not know.
// A change to this document must be a decision (docs/decisions.md), made here on purpose; new things go to a new version.
const V1_SHA256 = '88889b4f2db140ef78b9ab6741b4df838fda21c0fca8aaf5bf981b28d5ff08d2'

t.test('openapi/v1.yaml is byte for byte the frozen v1 contract', async (t) => {
  t.equal(createHash('sha256').update(readFileSync(specPath('v1'))).digest('hex'), V1_SHA256)
})

t.test('each version is served under /api/<version>, its document\'s server path', async (t) => {
  for (const version of CONTRACT_VERSIONS) t.equal(contracts[version].basePath, `/api/${version}`, version)
})

/** An operation as clients call it: method and path under the API root, and the statuses it may answer. */
const signatures = (version: (typeof CONTRACT_VERSIONS)[number]) => new Map(contracts[version].specOperations.map((operation) =>
  [operation.operationId!, { method: operation.method, path: operation.path, statuses: Object.keys(operation.responses ?? {}).sort() }]))

t.test('every operation of a version is in the next, at the same method and path, answering the same statuses', async (t) => {
  for (const [older, newer] of CONTRACT_VERSIONS.slice(1).map((version, i) => [CONTRACT_VERSIONS[i]!, version] as const)) {
    const next = signatures(newer)
    for (const [operationId, signature] of signatures(older)) t.same(next.get(operationId), signature, `${older}'s ${operationId} in ${newer}`)
  }
})

/** A schema without its examples, which name each version's own paths. */
const withoutExamples = (node: unknown): unknown => Array.isArray(node)
  ? node.map(withoutExamples)
  : typeof node === 'object' && node !== null
    ? Object.fromEntries(Object.entries(node).filter(([key]) => key !== 'example').map(([key, value]) => [key, withoutExamples(value)]))
    : node

t.test('every version answers problems in one shape', async (t) => {
  const shapes = (version: (typeof CONTRACT_VERSIONS)[number]) => {
    const { schemas } = contracts[version].dereferencedSpec.components!
    return withoutExamples({ Problem: schemas!.Problem, ProblemError: schemas!.ProblemError })
  }
  for (const version of CONTRACT_VERSIONS.slice(1)) t.same(shapes(version), shapes('v1'), `${version}'s Problem is v1's (src/contract/problems.ts serves one)`)
})
