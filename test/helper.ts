// The one way tests talk to the server: a real app on its own SQLite file, every response checked
// against the spec before a test sees it.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.js'
import { contractErrors } from './contract.js'

interface Teardown { teardown (fn: () => unknown): void }

export interface Reply<T = any> {
  status: number
  headers: Record<string, string | string[] | number | undefined>
  body: T
  text: string
}

export interface RequestOptions {
  body?: unknown
  /** Sent as is, instead of JSON-encoding `body`. */
  payload?: string | Buffer
  headers?: Record<string, string>
}

export interface TestApp {
  app: FastifyInstance
  file: string
  databaseUrl: string
  request<T = any>(method: string, url: string, options?: RequestOptions): Promise<Reply<T>>
}

export function tempDir (t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'trackbot-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export async function request<T> (app: FastifyInstance, method: string, url: string, options: RequestOptions = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...options.headers }
  let payload = options.payload
  if (payload === undefined && options.body !== undefined) {
    payload = JSON.stringify(options.body)
    headers['content-type'] ??= 'application/json'
  }
  const response = await app.inject({ method: method as 'GET', url, headers, payload })
  const seen = { method, url, status: response.statusCode, headers: response.headers, text: response.body }
  const errors = contractErrors(seen)
  if (errors.length > 0) {
    throw new Error(`${method} ${url} → ${response.statusCode} breaks the spec:\n  ${errors.join('\n  ')}\n  body: ${response.body.slice(0, 500)}`)
  }
  const isJson = /json/.test(String(response.headers['content-type'] ?? ''))
  return { ...seen, body: isJson && response.body !== '' ? JSON.parse(response.body) : undefined }
}

/** Starts the app on `file` (default: a fresh one in a temporary directory) and closes it after the test. */
export async function startApp (t: Teardown, file?: string): Promise<TestApp> {
  const path = file ?? join(tempDir(t), 'trackbot.db')
  const databaseUrl = `file:${path}`
  const app = await buildApp({ databaseUrl })
  t.teardown(() => app.close())
  return {
    app,
    file: path,
    databaseUrl,
    request: (method, url, options) => request(app, method, url, options),
  }
}

export const API = '/api/v1'
