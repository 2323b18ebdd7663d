// Random sequences of creates, posts, reads, updates and deletes through each contract version, checked step by step
// against that version's model of what should exist (stateful-v1.ts, stateful-v2.ts): lists, counts, order, contents
// and cascades agree with the model after every command. Every operation of a version's spec has a command: a walk
// through all of them fails naming any operation none reaches.
import fc from 'fast-check'
import t from 'tap'
import { CONTRACT_VERSIONS, type ContractVersion } from '../../src/contract/spec.js'
import { contracts } from '../contract.js'
import { startApp, type Request } from '../helper.js'
import { AUTH_MODES, withToken } from '../tokens.js'
import { runs, seed } from './spec-arbitraries.js'
import type { StatefulSuite } from './stateful.js'
import { v1Suite } from './stateful-v1.js'
import { v2Suite } from './stateful-v2.js'

const suites: Record<ContractVersion, StatefulSuite<any>> = { v1: v1Suite, v2: v2Suite }

t.comment(`fast-check seed ${seed} (FUZZ_SEED=${seed} replays it)`)

for (const version of CONTRACT_VERSIONS) {
  const { commands, everyCommand, checkAll, emptyModel } = suites[version]
  const { operationIdOf, assertReachedEveryOperation } = contracts[version]

  for (const mode of AUTH_MODES) {
    t.test(`${version}: any sequence of operations agrees with the model (${mode.name})`, async (t) => {
      // One app for all runs: each run's model holds only the rows it made, so earlier runs do not interfere.
      const app = await startApp(t, mode.options)
      const reached = new Set<string>()
      const authorized = withToken(app.request, await mode.token())
      // An operation counts as reached when a command succeeds at it: a read of what is gone (a 404) is no command for it.
      const request: Request = async (method, url, options) => {
        const reply = await authorized(method, url, options)
        const operationId = operationIdOf(method, url)
        if (operationId !== undefined && reply.status < 300) reached.add(operationId)
        return reply
      }

      await fc.asyncModelRun(() => ({ model: emptyModel(), real: request }), everyCommand())
      assertReachedEveryOperation(t, reached)

      await fc.assert(fc.asyncProperty(fc.commands(commands, { maxCommands: 30, size: 'medium' }), async (sequence) => {
        const model = emptyModel()
        await fc.asyncModelRun(() => ({ model, real: request }), [...sequence, checkAll()])
      }), { seed, numRuns: runs(25) })
      t.pass('every run agreed with the model')
    })
  }
}
