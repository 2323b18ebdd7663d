// v1's handlers: the frozen contract's operations, every one of them common to later versions.
import type { operations } from '../../generated/v1.js'
import type { Handlers } from '../contract/handler-types.js'
import type { V1Repositories } from '../store/repositories.js'
import type { V1Shapes } from '../store/models.js'
import { commonHandlers } from './common.js'

export function createV1Handlers (repositories: V1Repositories, basePath: string): Handlers<operations> {
  return commonHandlers<V1Shapes>(repositories, basePath)
}
