/**
 * Replays an NMEA 0183 log file (one sentence per line, as gateways and
 * `signalk-server` record them) as if it came live: at the log's own pace
 * or at a fixed rate (see {@link ReplayPacer}), once or in a loop. The file
 * is streamed, so a log of any size replays in constant memory.
 *
 * A log is replayed as a live feed: every update is stamped with the time it
 * is replayed (the log's times only set the pace), so the tree's timestamps
 * stay current and a looping demo never goes back in time.
 */
import { createReadStream } from 'node:fs'
import { basename, extname } from 'node:path'
import type { Logger } from 'pino'
import { LineSplitter } from './line-splitter.js'
import { type DeltaSink, NmeaDecoder } from './nmea-decoder.js'
import { labelOf, type Provider } from './provider.js'
import { ReplayPacer } from './replay-pacer.js'

/** Options of {@link startReplayProvider}. */
export interface ReplayProviderOptions {
  file: string
  sink: DeltaSink
  log: Logger
  /** Lines per second; default the log's own timing (RMC/ZDA times). */
  rate?: number
  /** Start again at the end of the file. Default false. */
  loop?: boolean
  /** The provider's label. Default `replay-<file name without extension>`. */
  label?: string
  /** Longest line kept (see {@link LineSplitter}). Default 512. */
  maxLineLength?: number
}

/** A running replay; `done` settles when it ends (end of file without loop, close, or a read error). */
export interface ReplayProvider extends Provider {
  readonly done: Promise<void>
}

// Shorter waits are not worth a timer: the line goes at once, and the absolute due times keep the pace.
const MIN_SLEEP_MS = 5
const MIN_PASS_MS = 1000

/** Starts replaying `file`. Read errors are logged and end the replay; they never throw. */
export function startReplayProvider(options: ReplayProviderOptions): ReplayProvider {
  const { file } = options
  const label = options.label ?? labelOf('replay', basename(file, extname(file)))
  const log = options.log.child({ provider: label })
  const decoder = new NmeaDecoder({ label, sink: options.sink, log, restamp: true })
  let closed = false
  let wake: (() => void) | undefined
  let timer: NodeJS.Timeout | undefined

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      wake = resolve
      timer = setTimeout(resolve, ms)
    })

  const pass = async (): Promise<number> => {
    const pacer = new ReplayPacer(options.rate)
    const lines: string[] = []
    const splitter = new LineSplitter(
      { line: (line) => lines.push(line), overlong: () => decoder.overlong() },
      options.maxLineLength,
    )
    let count = 0
    const play = async (): Promise<void> => {
      for (const line of lines) {
        const ms = pacer.delay(line, Date.now())
        if (ms >= MIN_SLEEP_MS) {
          // The lines due so far go to the tree as one write before the pause.
          decoder.flush()
          await sleep(ms)
        }
        if (closed) return
        decoder.line(line)
        count++
      }
      decoder.flush()
      lines.length = 0
    }
    for await (const chunk of createReadStream(file)) {
      splitter.push(chunk as Buffer)
      await play()
      if (closed) return count
    }
    splitter.flush()
    await play()
    return count
  }

  const run = async (): Promise<void> => {
    log.info(
      { file, rate: options.rate ?? 'real time', loop: options.loop ?? false },
      `replaying ${file}`,
    )
    try {
      do {
        const started = Date.now()
        if ((await pass()) === 0 && !closed) {
          log.warn({ file }, `${file} holds no lines; replay stopped`)
          return
        }
        // A log without usable times could loop with no pause at all: one pass a second at most.
        const left = MIN_PASS_MS - (Date.now() - started)
        if (options.loop && left > 0 && !closed) await sleep(left)
      } while (options.loop && !closed)
      if (!closed) log.info({ file, counters: decoder.counters }, `replay of ${file} finished`)
    } catch (err) {
      log.error({ file, err: (err as Error).message }, `cannot replay ${file}`)
    }
  }
  const done = run()

  return {
    kind: 'replay',
    label,
    counters: decoder.counters,
    done,
    close: async () => {
      closed = true
      clearTimeout(timer)
      wake?.()
      await done
    },
  }
}
