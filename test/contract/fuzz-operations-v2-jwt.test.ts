// v2's operations fuzzed from its spec (fuzz-operations.ts) with an admin token (AUTH_MODE=jwt); without tokens in
// fuzz-operations-v2.test.ts.
import { fuzzOperations } from './fuzz-operations.js'

fuzzOperations('v2', ['jwt'])
