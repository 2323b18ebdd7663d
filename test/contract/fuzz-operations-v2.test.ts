// v2's operations fuzzed from its spec (fuzz-operations.ts): content parts, create_messages, usage and the rest.
import { fuzzOperations } from './fuzz-operations.js'

fuzzOperations('v2')
