// 32-bit integers: OpenAPI's int32 format, which the spec gives its ids and counts, and the store's INTEGER columns
// (ids, versions). A number outside them names no row and never reaches the SQL.

const INT32_MIN = -(2 ** 31)
const INT32_MAX = 2 ** 31 - 1

export const isInt32 = (value: number): boolean => Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX

/** An int32 of 1 or more: what the spec's Id schema allows, and what a version or a user id claim can be. */
export const isPositiveInt32 = (value: number): boolean => isInt32(value) && value >= 1
