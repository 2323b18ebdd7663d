// The one way tests talk to the server: a real app on its own SQLite file, every response checked
// against the spec before a test sees it.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.js'
import { contractErrors, type SeenResponse } from './contract.js'

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

function encode (options: RequestOptions): { headers: Record<string, string>, payload?: string | Buffer } {
  const headers: Record<string, string> = { ...options.headers }
  if (options.payload !== undefined || options.body === undefined) return { headers, payload: options.payload }
  headers['content-type'] ??= 'application/json'
  return { headers, payload: JSON.stringify(options.body) }
}

/** Fails unless the response obeys the spec; parses its JSON body. */
function checked<T> (seen: SeenResponse): Reply<T> {
  const errors = contractErrors(seen)
  if (errors.length > 0) {
    throw new Error(`${seen.method} ${seen.url} → ${seen.status} breaks the spec:\n  ${errors.join('\n  ')}\n  body: ${seen.text.slice(0, 500)}`)
  }
  const isJson = /json/.test(String(seen.headers['content-type'] ?? ''))
  return { ...seen, body: isJson && seen.text !== '' ? JSON.parse(seen.text) : undefined }
}

export async function request<T> (app: FastifyInstance, method: string, url: string, options: RequestOptions = {}): Promise<Reply<T>> {
  const { headers, payload } = encode(options)
  const response = await app.inject({ method: method as 'GET', url, headers, payload })
  return checked({ method, url, status: response.statusCode, headers: response.headers, text: response.body })
}

/** The same over a real socket, for a server running in another process. */
export async function httpRequest<T> (origin: string, method: string, url: string, options: RequestOptions = {}): Promise<Reply<T>> {
  const { headers, payload } = encode(options)
  const response = await fetch(origin + url, { method, headers, body: payload })
  const text = await response.text()
  return checked({ method, url, status: response.status, headers: Object.fromEntries(response.headers), text })
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
