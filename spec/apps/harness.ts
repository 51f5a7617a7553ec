/**
 * The harness of the app specs and of `scripts/apps-check.ts`: KIP and
 * Freeboard-SK installed at test time outside the repo, a real keelson
 * replaying the demo voyage and serving them, and a Chromium page that may
 * reach nothing but 127.0.0.1 and records every sign of failure the apps
 * give: console errors, page errors, failed requests, WebSocket error
 * replies and the toasts they show.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { startIngest } from '../../src/ingest/ingest.js'
import type { KeelsonOptions } from '../../src/options.js'
import { type Secured, startSecured, type TestUser } from '../support/secured.js'

/** The apps and versions the issue names (never in package.json). */
export const APPS = { '@mxtommy/kip': '4.8.5', '@signalk/freeboard-sk': '3.1.1' } as const

/** Where they are installed, reused while it holds these versions. */
export const APPS_DIR = join(tmpdir(), 'keelson-apps')

/** How long `npm install` may take before the specs give up and skip. */
const INSTALL_TIMEOUT_MS = 180_000

/** The `node_modules` directory holding the apps, or why they cannot be had. */
export type Installed = { modules: string } | { skip: string }

function installedVersion(modules: string, name: string): string | undefined {
  try {
    return JSON.parse(readFileSync(join(modules, name, 'package.json'), 'utf8')).version
  } catch {
    return undefined
  }
}

/**
 * Installs {@link APPS} with `npm install --no-save` into {@link APPS_DIR}
 * (install scripts off: the apps are static files), unless they are there
 * already. Resolves `{ skip }` with npm's last words when the registry cannot
 * be reached.
 */
export async function installApps(dir = APPS_DIR): Promise<Installed> {
  const modules = join(dir, 'node_modules')
  const present = () =>
    Object.entries(APPS).every(([name, v]) => installedVersion(modules, name) === v)
  if (present()) return { modules }
  mkdirSync(dir, { recursive: true })
  // Both app specs start at once: one installs, the other waits for it (a lock older than an
  // install may take was left by a killed run and is taken over).
  const lock = join(dir, '.installing')
  const end = Date.now() + INSTALL_TIMEOUT_MS
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' })
      break
    } catch {
      const stale = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? 0)
      if (stale > INSTALL_TIMEOUT_MS) rmSync(lock, { force: true })
      else if (Date.now() > end) return { skip: `another process has been installing into ${dir}` }
      else await new Promise((wake) => setTimeout(wake, 500))
      if (present()) return { modules }
    }
  }
  try {
    if (present()) return { modules }
    const manifest = join(dir, 'package.json')
    if (!existsSync(manifest)) writeFileSync(manifest, '{"name":"keelson-apps","private":true}\n')
    const specs = Object.entries(APPS).map(([name, v]) => `${name}@${v}`)
    // Offline, npm would retry for minutes: one retry, 30 s per fetch.
    const args = [
      'install',
      '--no-save',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--fetch-retries=1',
      '--fetch-timeout=30000',
      ...specs,
    ]
    return await new Promise((resolve) => {
      execFile('npm', args, { cwd: dir, timeout: INSTALL_TIMEOUT_MS }, (err, _out, stderr) => {
        if (err) {
          const last = stderr.trim().split('\n').slice(-3).join(' ')
          resolve({
            skip: `npm install ${specs.join(' ')} failed (${err.message.split('\n')[0]}): ${last}`,
          })
        } else {
          resolve({ modules })
        }
      })
    })
  } finally {
    rmSync(lock, { force: true })
  }
}

/** The one user of the secured server, an admin (KIP saves its configuration as it). */
export const SKIPPER: TestUser = { name: 'skipper', type: 'admin', password: 'sails-and-lines' }

/** A keelson serving the apps and replaying the demo voyage. */
export interface Served extends Secured {
  /** Where this server persists application data and resources. */
  persistDir: string
}

/**
 * Starts keelson on 127.0.0.1 port 0 with the apps of `modules`, the demo
 * voyage replaying in a loop, and `users` in its security file (none: the
 * no-users rule, as a boat owner who added nobody). `replayRate` (NMEA
 * lines a second; the voyage's own timing is 7.5) sails the boat faster.
 */
export async function serveApps(
  modules: string,
  users: TestUser[] = [],
  options: Partial<KeelsonOptions> = {},
  replayRate?: number,
): Promise<Served> {
  const persistDir = await mkdtemp(join(tmpdir(), 'keelson-apps-data-'))
  const secured = await startSecured({
    users,
    options: { webappDirs: [modules], persistDir, ...options },
  })
  const ingest = await startIngest(secured.keelson, {
    demo: true,
    loop: true,
    nmeaTcp: [],
    ...(replayRate !== undefined && { replayRate }),
  })
  return {
    ...secured,
    persistDir,
    async close() {
      await ingest.close()
      await secured.close()
      await rm(persistDir, { recursive: true, force: true })
    },
  }
}

/** One sign of failure seen in the page. */
export interface Failure {
  kind: 'console' | 'pageerror' | 'http' | 'network' | 'ws' | 'toast'
  text: string
  /** What the scenario was doing ({@link Watched.phase}) when it was seen. */
  phase?: string
}

/** A page of an app and what it showed. */
export interface Watched {
  page: Page
  context: BrowserContext
  failures: Failure[]
  /** Requests to anywhere but 127.0.0.1, refused before they leave (not failures of keelson). */
  blocked: string[]
  /** Every request made to keelson, `METHOD path`. */
  requests: string[]
  /** Stamped on each failure seen from now on (a scenario says where it is: `before-login`...). */
  phase: string | undefined
  /** Failures not seen before the last call, then marks them seen. */
  since(): Failure[]
  /** Looks for toasts on screen now and records new ones. */
  readToasts(): Promise<string[]>
}

/** The toasts of both apps: Angular Material snack bars. */
export const TOAST = '.mat-mdc-snack-bar-container, mat-snack-bar-container'

/**
 * A new context and page whose requests may go to 127.0.0.1 only, recording
 * every failure. `origin` is keelson's `http://127.0.0.1:PORT`.
 */
export async function watch(browser: Browser, origin: string): Promise<Watched> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  // Generous: the specs share a loaded machine; every wait is for a condition, never a fixed time.
  context.setDefaultTimeout(30_000)
  context.setDefaultNavigationTimeout(60_000)
  const failures: Failure[] = []
  const blocked: string[] = []
  const requests: string[] = []
  let seen = 0
  const toasts = new Set<string>()
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url())
    if (url.hostname === '127.0.0.1' || url.protocol === 'data:' || url.protocol === 'blob:') {
      return route.continue()
    }
    blocked.push(`${route.request().method()} ${url.origin}${url.pathname}`)
    return route.abort('blockedbyclient')
  })
  const page = await context.newPage()
  const record = (failure: Failure): void => {
    failures.push(watched.phase === undefined ? failure : { ...failure, phase: watched.phase })
  }
  const local = (url: string): string | undefined => {
    if (!url.startsWith(origin)) return undefined
    return url.slice(origin.length)
  }
  page.on('console', async (msg) => {
    if (msg.type() !== 'error') return
    const text = msg.text()
    // Chromium's line for a failed load names no URL: the response or the failed
    // request is recorded with it; a blocked outside request is in `blocked`.
    if (text.startsWith('Failed to load resource') || text.includes('ERR_BLOCKED_BY_CLIENT')) return
    // An app logs error objects (Angular's HttpErrorResponse): their message says more than
    // the minified class name that `text()` gives.
    const args = await Promise.all(
      msg
        .args()
        .map((arg) =>
          arg
            .evaluate((v) =>
              v instanceof Error || (typeof v === 'object' && v !== null && 'message' in v)
                ? String((v as { message: unknown }).message)
                : typeof v === 'object'
                  ? JSON.stringify(v)
                  : String(v),
            )
            .catch(() => ''),
        ),
    ).catch(() => [] as string[])
    const full = args.filter((a) => a !== '').join(' ') || text
    record({ kind: 'console', text: full.slice(0, 300) })
  })
  page.on('pageerror', (err) => record({ kind: 'pageerror', text: err.message.slice(0, 300) }))
  page.on('request', (req) => {
    const path = local(req.url())
    if (path !== undefined) requests.push(`${req.method()} ${path}`)
  })
  page.on('response', (res) => {
    const path = local(res.url())
    if (path !== undefined && res.status() >= 400) {
      record({ kind: 'http', text: `${res.request().method()} ${path} → ${res.status()}` })
    }
  })
  page.on('requestfailed', (req) => {
    const path = local(req.url())
    const reason = req.failure()?.errorText ?? ''
    // A request cut short by a navigation or a reload is not a failure of the server.
    if (path !== undefined && reason !== 'net::ERR_ABORTED') {
      record({ kind: 'network', text: `${req.method()} ${path} → ${reason}` })
    }
  })
  page.on('websocket', (ws) => {
    ws.on('framereceived', ({ payload }) => {
      if (typeof payload !== 'string' || !/errorMessage|"statusCode":\s*[45]/.test(payload)) return
      record({ kind: 'ws', text: payload.slice(0, 300) })
    })
  })
  const watched: Watched = {
    page,
    context,
    failures,
    blocked,
    requests,
    phase: undefined,
    since() {
      const out = failures.slice(seen)
      seen = failures.length
      return out
    },
    async readToasts() {
      const texts = await page
        .locator(TOAST)
        .allTextContents()
        .catch(() => [] as string[])
      for (const raw of texts) {
        const text = raw.replace(/\s+/g, ' ').trim()
        if (!toasts.has(text)) {
          toasts.add(text)
          record({ kind: 'toast', text })
        }
      }
      return texts
    },
  }
  return watched
}

/**
 * Reads toasts every 250 ms for `ms`: a snack bar lives a few seconds, so a
 * single look after the fact could miss it.
 */
export async function watchToasts(watched: Watched, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    await watched.readToasts()
    await watched.page.waitForTimeout(250)
  }
}
