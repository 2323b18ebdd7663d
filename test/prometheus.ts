// Reading /metrics as Prometheus reads it: the text exposition format (version 0.0.4), parsed strictly, so an
// answer a scraper would reject fails here first; and the samples by name and labels.
import type { FastifyInstance } from 'fastify'

export interface Sample { name: string, labels: Record<string, string>, value: number }

export interface Exposition {
  /** Each family's TYPE line: counter, gauge, histogram, summary or untyped. */
  types: Map<string, string>
  samples: Sample[]
  /** The sum of the samples named `name` whose labels include `labels` (0 when none match). */
  value (name: string, labels?: Record<string, string>): number
  /** The samples named `name` whose labels include `labels`. */
  find (name: string, labels?: Record<string, string>): Sample[]
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"'
// Prometheus reads values with Go's ParseFloat, which takes NaN and Inf in any case (prom-client writes `Nan`).
const VALUE = '[+-]?(?:(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?|[iI][nN][fF]|[nN][aA][nN])'
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*,?)?\\})? (${VALUE})(?: -?\\d+)?$`)
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`)
const HELP = new RegExp(`^# HELP (${NAME}) .*$`)

/** A sample's value as Go's ParseFloat reads it; JavaScript's Number knows neither `Inf` nor `Nan`. */
const numberOf = (text: string) => Number(text.replace(/inf$/i, 'Infinity').replace(/^[+-]?nan$/i, 'NaN'))

const unescape = (value: string) => value.replace(/\\(["\\n])/g, (_, c: string) => c === 'n' ? '\n' : c)

/** The family a sample belongs to: a histogram's and a summary's series carry suffixes. */
function familyOf (name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name
  const base = name.replace(/_(bucket|sum|count)$/, '')
  return ['histogram', 'summary'].includes(types.get(base) ?? '') ? base : undefined
}

/** Parses an exposition, failing on the first line Prometheus would not take, or a sample of a family with no TYPE before it. */
export function parseExposition (text: string): Exposition {
  const types = new Map<string, string>()
  const samples: Sample[] = []
  for (const [i, line] of text.split('\n').entries()) {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`
    if (line === '' || HELP.test(line)) continue
    const type = TYPE.exec(line)
    if (type !== null) {
      if (types.has(type[1]!)) throw new Error(`${where}: a second TYPE for ${type[1]}`)
      types.set(type[1]!, type[2]!)
      continue
    }
    if (line.startsWith('#')) throw new Error(`${where}: a comment that is neither HELP nor TYPE`)
    const sample = SAMPLE.exec(line)
    if (sample === null) throw new Error(`${where}: not a sample`)
    const [, name, labelText, value] = sample
    if (familyOf(name!, types) === undefined) throw new Error(`${where}: no TYPE before the samples of ${name}`)
    const labels = Object.fromEntries([...(labelText ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map(([, key, raw]) => [key!, unescape(raw!)]))
    samples.push({ name: name!, labels, value: numberOf(value!) })
  }
  if (!text.endsWith('\n')) throw new Error('the exposition does not end with a newline')
  const find = (name: string, labels: Record<string, string> = {}) =>
    samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
  return { types, samples, find, value: (name, labels) => find(name, labels).reduce((sum, sample) => sum + sample.value, 0) }
}

/** An app's /metrics, parsed; fails unless it answers 200 in Prometheus' text format. */
export async function scrape (app: FastifyInstance): Promise<Exposition> {
  const reply = await app.inject({ url: '/metrics' })
  if (reply.statusCode !== 200) throw new Error(`GET /metrics → ${reply.statusCode}: ${reply.body.slice(0, 500)}`)
  return parseExposition(reply.body)
}

/** /metrics at `url` over HTTP, parsed; fails unless it answers 200. */
export async function scrapeUrl (url: string): Promise<Exposition> {
  const response = await fetch(url)
  const text = await response.text()
  if (response.status !== 200) throw new Error(`GET ${url} → ${response.status}: ${text.slice(0, 500)}`)
  return parseExposition(text)
}
