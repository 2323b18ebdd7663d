// v2's operations fuzzed from its spec (fuzz-operations.ts) without tokens: content parts, create_messages, usage,
// history and the rest. With an admin token in fuzz-operations-v2-jwt.test.ts: v2 has too many operations for one file.
import { fuzzOperations } from './fuzz-operations.js'

fuzzOperations('v2', ['none'])
