/**
 * The scenarios of issue 5, full size and `--quick` size. Every one is
 * bounded: a fixed injection time, a drain limit, a connect timeout.
 */

/** Fan-out under a steady change rate. */
export interface StreamScenario {
  kind: 'stream'
  id: string
  title: string
  clients: number
  rate: number
  durationMs: number
  drainMs: number
}

/** Open streams doing nothing: server memory per connection. */
export interface IdleScenario {
  kind: 'idle'
  id: string
  title: string
  clients: number
}

/** REST GET and conditional GET with autocannon. */
export interface RestScenario {
  kind: 'rest'
  id: string
  title: string
  connections: number
  durationMs: number
}

/** The NMEA ingest path, measured by bench/ingest.ts when it exists. */
export interface IngestScenario {
  kind: 'ingest'
  id: string
  title: string
  durationMs: number
}

export type Scenario = StreamScenario | IdleScenario | RestScenario | IngestScenario

/** The suite; `quick` shrinks client counts and times for a smoke run. */
export function scenarios(quick: boolean): Scenario[] {
  const ms = quick ? 2000 : 8000
  const drainMs = quick ? 2000 : 5000
  const many = quick ? 1000 : 10_000
  const thousand = quick ? 200 : 1000
  const stream = (id: string, clients: number, rate: number, duration = ms): StreamScenario => ({
    kind: 'stream',
    id,
    title: `${clients} clients × ${rate} changes/s`,
    clients,
    rate,
    durationMs: duration,
    drainMs,
  })
  return [
    stream('a', 100, 1000),
    stream('b1', thousand, 100),
    stream('b2', thousand, 1000),
    stream('c', many, 10, quick ? 3000 : 10_000),
    { kind: 'idle', id: 'd', title: `${many} idle streams`, clients: many },
    {
      kind: 'rest',
      id: 'e',
      title: 'REST GET and conditional GET',
      connections: 50,
      durationMs: quick ? 2000 : 5000,
    },
    { kind: 'ingest', id: 'f', title: 'NMEA 0183 ingest', durationMs: quick ? 2000 : 5000 },
  ]
}

/** Whether `id` is picked by an `--only` filter (`b` picks b1 and b2). */
export function picked(id: string, only: string[] | undefined): boolean {
  return !only || only.some((o) => id === o || id.startsWith(o))
}
