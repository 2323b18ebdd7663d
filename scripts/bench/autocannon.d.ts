// The part of autocannon 9's library API the benchmark uses (the package ships no types).
declare module 'autocannon' {
  namespace autocannon {
    interface Request {
      method?: string
      path?: string
      body?: string
      headers?: Record<string, string>
      setupRequest?: (request: Request, context: object) => Request
    }
    interface Options {
      url: string
      connections?: number
      duration?: number
      /** Requests across all connections before the run ends (with duration, whichever comes first). */
      maxOverallRequests?: number
      requests?: Request[]
    }
    interface Result {
      /** Seconds. */
      duration: number
      errors: number
      timeouts: number
      non2xx: number
      statusCodeStats: Record<string, { count: number }>
      latency: { p50: number, p99: number, average: number }
      requests: { total: number, average: number }
    }
  }
  function autocannon (options: autocannon.Options): Promise<autocannon.Result>
  export default autocannon
}
