/**
 * `keelson watch URL` (SPEC §10): follows the SSE stream of a REST path with
 * the client library (src/client) and shows it live in the terminal, in
 * place, values with their units from the paths' meta, changed rows
 * highlighted; `--json` prints each merge patch as one line instead (for `jq`).
 */
import { parseArgs } from 'node:util'
import { type Status, subscribe } from '../client/index.js'
import type { Command } from './commands.js'
import { ConfigError } from './values.js'
import { rowsOf, TerminalView } from './watch-view.js'

/** `keelson watch --help`. */
export const WATCH_HELP = `Usage: keelson watch URL [options]

Follows a keelson SSE stream and shows its values live, updated in place.
URL is a REST path, e.g. http://localhost:3000/signalk/v1/api/vessels/self/navigation

Options:
  --json            print each RFC 7396 merge patch as one line of JSON (the first is the snapshot)
  --token TOKEN     access token (sent as Authorization: Bearer); env KEELSON_TOKEN
  --min-period MS   at most one update per MS milliseconds (default 250 for the live view)
  -h, --help        show this help
`

/** The live view's default throttle: a terminal does not need more than four frames a second. */
const VIEW_MIN_PERIOD_MS = 250

interface WatchArgs {
  url: URL
  json: boolean
  token?: string
  minPeriod?: number
}

function parse(args: readonly string[]): WatchArgs | undefined {
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        token: { type: 'string' },
        'min-period': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (err) {
    throw new ConfigError(`watch: ${(err as Error).message}`)
  }
  const { values, positionals } = parsed
  if (values.help) return undefined
  if (positionals.length !== 1)
    throw new ConfigError(
      'watch needs one URL, e.g. keelson watch http://localhost:3000/signalk/v1/api/vessels/self',
    )
  let url: URL
  try {
    url = new URL(positionals[0]!)
  } catch {
    throw new ConfigError(`watch: "${positionals[0]}" is not a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`watch: the URL must be http: or https:, got ${url.protocol}`)
  }
  const rawPeriod = values['min-period']
  let minPeriod: number | undefined
  if (typeof rawPeriod === 'string') {
    minPeriod = Number(rawPeriod)
    if (!/^\d+$/.test(rawPeriod) || !Number.isSafeInteger(minPeriod)) {
      throw new ConfigError(`watch: --min-period must be a whole number of ms, got "${rawPeriod}"`)
    }
  }
  const token = typeof values.token === 'string' ? values.token : process.env.KEELSON_TOKEN
  return { url, json: values.json === true, token, minPeriod }
}

/** Reads (once per path) the `units` of each row's path from `<url>/<path>/meta`. */
function unitsReader(url: URL, token: string | undefined, changed: () => void) {
  const units = new Map<string, string | undefined>()
  const base = url.href.replace(/\/+$/, '')
  return (path: string): string | undefined => {
    if (!units.has(path)) {
      units.set(path, undefined)
      const segments = path === '.' ? [] : path.split('.').map(encodeURIComponent)
      const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {}
      fetch(`${[base, ...segments].join('/')}/meta`, { headers })
        .then((res): Promise<{ units?: unknown }> | { units?: unknown } =>
          res.ok ? res.json() : {},
        )
        .then((meta) => {
          if (typeof meta.units === 'string') {
            units.set(path, meta.units)
            changed()
          }
        })
        .catch(() => {
          // No meta: the value is shown without a unit.
        })
    }
    return units.get(path)
  }
}

/** Runs `keelson watch`; resolves when the subscription closes (Ctrl-C, or refused for good). */
export async function watch(args: readonly string[]): Promise<void> {
  const options = parse(args)
  if (!options) return void process.stdout.write(WATCH_HELP)
  const { url, json, token } = options
  const out = process.stdout
  const aborter = new AbortController()
  const tty = out.isTTY === true
  const view = new TerminalView(
    (text) => out.write(text),
    tty,
    () => out.columns || Number(process.env.COLUMNS) || 100,
  )
  let state: unknown = null
  let status: Status = 'connecting'
  let lastEventId: string | undefined
  let timer: NodeJS.Timeout | undefined

  const draw = (): void => {
    timer = undefined
    const now = Date.now()
    const rows = rowsOf(state)
    const shown = status === 'live' ? `live · ${lastEventId ?? ''}` : status
    view.draw(`[${shown}]  keelson watch ${url.href}`, rows, unitsOf, now)
    // Redraw once the highlight of the last change has faded.
    if (view.highlighted(now)) timer = setTimeout(draw, 500)
  }
  const redraw = (): void => {
    if (!json && timer === undefined) timer = setTimeout(draw, 0)
  }
  const unitsOf = unitsReader(url, token, redraw)

  const done = new Promise<void>((resolve) => {
    subscribe(url, {
      transport: 'fetch',
      token,
      minPeriod: options.minPeriod ?? (json ? undefined : VIEW_MIN_PERIOD_MS),
      signal: aborter.signal,
      onPatch: (patch) => {
        if (json) out.write(`${JSON.stringify(patch)}\n`)
      },
      onState: (next, info) => {
        state = next
        lastEventId = info.lastEventId
        view.update(rowsOf(state), Date.now())
        redraw()
      },
      onStatus: (next, info) => {
        status = next
        if (json && next === 'reconnecting') {
          process.stderr.write(
            `keelson watch: ${next}${info.error ? `: ${info.error.message}` : ''}\n`,
          )
        }
        if (next === 'closed') {
          if (info.error) {
            process.stderr.write(`keelson watch: ${info.error.message}\n`)
            process.exitCode = 1
          }
          clearTimeout(timer)
          resolve()
          return
        }
        redraw()
      },
    })
  })
  if (tty && !json) out.write('\u001b[?25l')
  const stop = (): void => aborter.abort()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  await done
  if (tty && !json) out.write('\u001b[?25h')
  process.off('SIGINT', stop)
  process.off('SIGTERM', stop)
}

/** The `watch` entry of the command table. */
export const WATCH_COMMAND: Command = {
  summary: 'URL [--json] [--token T]  follow a path live in the terminal',
  run: watch,
}
