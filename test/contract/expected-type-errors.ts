// Makes a test file's `@ts-expect-error` lines a test that runs: the file is compiled as the project's tsconfig
// says, once as written (it must compile clean) and once with every directive removed (each line a directive
// covered must then fail to compile, with the error code its reason names), both in one TypeScript Program.
// Without this, only `npm run typecheck` would notice a directive whose line had started to compile.
import { readFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import ts from 'typescript'
import { projectRoot } from '../../src/project-root.js'

/** `// @ts-expect-error -- TS2741: why it must not compile`: the codes TypeScript must report, then the reason. */
const DIRECTIVE = /^([ \t]*)\/\/ *@ts-expect-error\b(.*)$/gm
const REASON = /^ -- ((?:TS\d+)(?:, TS\d+)*): \S/

export interface Directive {
  /** 1-based line of the code the directive covers (the line after it). */
  line: number
  /** The directive's comment, as written. */
  comment: string
  /** The codes its reason names: one of them must be reported on `line` once the directive is gone. */
  codes: number[]
  /** The codes TypeScript reports on `line` once the directive is gone, chained ones included. */
  found: number[]
  /** What TypeScript reports on `line` once the directive is gone, as `TS<code> > TS<chained code>: message`. */
  errors: string[]
}

export interface TypeErrorCheck {
  /** Every error the file as written has (its directives in place): none, for a file that compiles. */
  asWritten: string[]
  directives: Directive[]
  /** Errors of the file without its directives on lines no directive covers: none, or the removal changed more. */
  elsewhere: string[]
  /** Directives whose comment does not say `-- TS<code>[, TS<code>]: reason`. */
  malformed: string[]
}

/** The codes of a diagnostic and of every message chained under it: `TS2345` says "not assignable", `TS2741` why. */
function codesOf (diagnostic: ts.Diagnostic): number[] {
  const chained = (chain: ts.DiagnosticMessageChain): number[] => [chain.code, ...(chain.next ?? []).flatMap(chained)]
  return typeof diagnostic.messageText === 'string' ? [diagnostic.code] : chained(diagnostic.messageText)
}

const describe = (diagnostic: ts.Diagnostic): string =>
  `${[...new Set(codesOf(diagnostic))].map((code) => `TS${code}`).join(' > ')}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`

function lineOf (diagnostic: ts.Diagnostic): number {
  return diagnostic.file === undefined || diagnostic.start === undefined ? 0 : diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line + 1
}

/** `file` with each directive turned into a plain comment, so every line keeps its number. */
function withoutDirectives (source: string): string {
  return source.replace(DIRECTIVE, (_, indent: string, rest: string) => `${indent}// (expected error)${rest}`)
}

/** `file` (a path from the project root) compiled as written and without its `@ts-expect-error` directives. */
export function checkExpectedTypeErrors (file: string): TypeErrorCheck {
  const path = join(projectRoot, file)
  const source = readFileSync(path, 'utf8')
  // The directive-free copy sits beside the file, so its relative imports resolve to the same modules.
  const copy = join(dirname(path), `.without-directives.${basename(path)}`)

  const config = ts.getParsedCommandLineOfConfigFile(join(projectRoot, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => { throw new Error(describe(diagnostic)) },
  })
  if (config === undefined) throw new Error('tsconfig.json could not be read')
  const options = { ...config.options, noEmit: true, declaration: false, sourceMap: false }
  const host = ts.createCompilerHost(options)
  const { getSourceFile, fileExists, readFile } = host
  host.fileExists = (name) => name === copy || fileExists(name)
  host.readFile = (name) => (name === copy ? withoutDirectives(source) : readFile(name))
  host.getSourceFile = (name, language, onError, create) => name === copy
    ? ts.createSourceFile(name, withoutDirectives(source), language)
    : getSourceFile(name, language, onError, create)

  const program = ts.createProgram({ rootNames: [path, copy], options, host })
  const errorsOf = (name: string) => {
    const sourceFile = program.getSourceFile(name)
    if (sourceFile === undefined) throw new Error(`${name} is not in the program`)
    return [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)]
  }

  const directives: Directive[] = []
  const malformed: string[] = []
  for (const match of source.matchAll(DIRECTIVE)) {
    const line = source.slice(0, match.index).split('\n').length + 1
    const comment = match[0].trim()
    const codes = REASON.exec(match[2]!)?.[1]?.split(', ').map((code) => Number(code.slice(2)))
    if (codes === undefined) malformed.push(`line ${line - 1}: ${comment}`)
    directives.push({ line, comment, codes: codes ?? [], found: [], errors: [] })
  }
  const elsewhere: string[] = []
  for (const diagnostic of errorsOf(copy)) {
    const line = lineOf(diagnostic)
    const directive = directives.find((candidate) => candidate.line === line)
    if (directive === undefined) elsewhere.push(`line ${line}: ${describe(diagnostic)}`)
    else {
      directive.found.push(...codesOf(diagnostic))
      directive.errors.push(describe(diagnostic))
    }
  }
  return {
    asWritten: errorsOf(path).map((diagnostic) => `line ${lineOf(diagnostic)}: ${describe(diagnostic)}`),
    directives,
    elsewhere,
    malformed,
  }
}

interface Assertions {
  same: (found: unknown, wanted: unknown, message: string) => unknown
  ok: (value: unknown, message: string) => unknown
}

/** The assertions a file makes of its own directives: each line it expects an error on fails to compile, as named. */
export function assertExpectedTypeErrors (t: Assertions, file: string): void {
  const check = checkExpectedTypeErrors(file)
  t.ok(check.directives.length > 0, `${file} has @ts-expect-error lines to check`)
  t.same(check.malformed, [], 'each directive names the error codes it expects: `// @ts-expect-error -- TS<code>: reason`')
  t.same(check.asWritten, [], `${file} compiles clean as written`)
  for (const { line, comment, codes, found, errors } of check.directives) {
    const named = codes.some((code) => found.includes(code))
    t.ok(named, `line ${line} fails to compile without its directive (${comment.replace(/^\/\/ *@ts-expect-error -- /, '')})${named ? '' : `: TypeScript reports ${errors.length === 0 ? 'nothing' : errors.join('; ')}`}`)
  }
  t.same(check.elsewhere, [], 'without the directives, no other line fails')
}
