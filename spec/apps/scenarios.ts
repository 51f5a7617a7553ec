/**
 * What a boat owner does with KIP and Freeboard-SK, as steps a spec and
 * `scripts/apps-check.ts` both run: open an app and watch it, log KIP in
 * and save its configuration on the server, save a waypoint in Freeboard,
 * find it again after a reload and Go To it. Each scenario returns what it
 * saw: the failures the page showed and the checks that did not hold.
 */
import type { Browser, Page } from 'playwright-core'
import { artifact } from '../support/browser.js'
import {
  type Failure,
  type Served,
  SKIPPER,
  TOAST,
  type Watched,
  watch,
  watchToasts,
} from './harness.js'

/** Where each app is served. */
export const KIP = '/@mxtommy/kip/'
export const FREEBOARD = '/@signalk/freeboard-sk/'

/** What a scenario saw. */
export interface Outcome {
  name: string
  /** Every failure the page showed (see {@link isFailure} for the ones that count). */
  failures: Failure[]
  /** Requests to the internet, refused (map tiles, Freeboard's connectivity check). */
  blocked: string[]
  /** Every distinct request made to the server, `METHOD path`. */
  requests: string[]
  /** What the scenario checked and found, in order. */
  notes: string[]
  /** The checks that did not hold. */
  problems: string[]
  /** Screenshot files. */
  shots: string[]
}

/** A failure seen against signalk-server 2.32.0 too (`scripts/apps-check.ts --url`). */
export interface Upstream {
  /** Matches a failure's signature (see {@link signatures}). */
  match: RegExp
  /** Only while the scenario is in this phase. */
  phase?: 'no-users' | 'before-login' | 'first-login'
  /** Why signalk-server fails it too. */
  why: string
}

/**
 * What fails against signalk-server 2.32.0 too, run with its defaults (its
 * resources-provider, course-provider and the apps' plugins enabled) and the
 * same two apps, on Node 20, fed the demo voyage (README "Signal K endpoints").
 */
export const UPSTREAM_FAILURES: readonly Upstream[] = [
  {
    match: /^GET \/signalk\/v2\/api\/resources\/(tracks|infolayers|groups) → 404$/,
    why: 'Freeboard-SK lists its custom types before it registers them',
  },
  {
    match: /^GET \/signalk\/v2\/api\/resources\/(symbols|plotterExtensions) → 404$/,
    why: 'no symbol or plotter-extension provider installed',
  },
  { match: /^GET \/signalk\/v1\/api\/tracks → 404$/, why: 'no tracks plugin installed' },
  {
    match: /^GET \/signalk\/v1\/api\/vessels\/self\/navigation\/anchor → 404$/,
    why: 'no anchor set',
  },
  {
    match: /^POST \/plugins\/kip\/series\/reconcile → \d{3}$/,
    why: "KIP's plugin answers 503 on Node 20 (node:sqlite needs 22.5), 401 before a login",
  },
  {
    // Its console line names the request only when its error object can still be read;
    // during a reload only the minified class name is left.
    match: /^console: \[KipSeriesApiClientService\] Series reconcile request failed/,
    why: 'KIP logs the failed reconcile above to its console',
  },
  {
    match: /^POST \/signalk\/v1\/applicationData\/user\/freeboard\/[^/]+\/? → 40[15]$/,
    phase: 'no-users',
    why: 'told by /plugins/freeboard-sk (200) that it may, Freeboard-SK saves its settings as user data; with no security signalk-server answers 405 "security is not enabled"',
  },
  {
    // KIP's Freeboard-SK widget embeds Freeboard-SK, logged in with KIP's cookie. Freeboard-SK
    // asks for its user data (`GET .../applicationData/user/freeboard/<version>/`); a user who
    // never saved any gets `{}`, as signalk-server answers (its readApplicationData), and
    // Freeboard-SK then reads `units.temperature` of that empty document before it falls back
    // to its defaults. Whether the test sees it depends on the widget loading before the end.
    match:
      /^console: ERROR (TypeError: )?Cannot read properties of undefined \(reading 'temperature'\)/,
    why: "Freeboard-SK reads the units of an empty user-data document ({}), signalk-server's answer too",
  },
  {
    match: /^ws: .*"statusCode":40[13]\b/,
    phase: 'before-login',
    why: 'with users, an anonymous PUT request (KIP sends three on connect) is refused: 403',
  },
  {
    match: /^GET \/plugins\/kip → 40[134]$/,
    phase: 'before-login',
    why: 'with users, /plugins/* needs a login: 401',
  },
  {
    match: /^toast: .*Failed to load KIP plugin configuration/,
    phase: 'before-login',
    why: 'KIP toasts the 401 of /plugins/kip ("Authentication required")',
  },
  {
    match: /^GET \/signalk\/v1\/applicationData\/user\/kip\/\d+\/default → 404$/,
    phase: 'first-login',
    why: 'a new user has no configuration yet (KIP then offers to create it)',
  },
  {
    match: /^POST \/signalk\/v1\/applicationData\/user\/kip\/\d+ → [45]\d\d$/,
    phase: 'first-login',
    why: "KIP's first POST to its version directory: signalk-server answers 500",
  },
]

/**
 * True for a toast that reports an error or a refusal. The apps also toast
 * news ("Connection Open.", KIP's offer to create a shared configuration for
 * a new user, which signalk-server gets too).
 */
export function isErrorToast(text: string): boolean {
  return /error|fail|could not|unable|not found|status code|requires/i.test(text)
}

/**
 * What a failure is, to match {@link UPSTREAM_FAILURES}: `METHOD path →
 * status` for a request (query left out; an app's console error about a
 * request gives it for GET and POST, Angular does not say the method), else
 * `kind: text`.
 */
export function signatures(failure: Failure): string[] {
  const own = `${failure.kind}: ${failure.text}`
  if (failure.kind === 'http' || failure.kind === 'network') {
    const [request = '', status = ''] = failure.text.split(' → ')
    return [`${request.split('?')[0]} → ${status}`, own]
  }
  if (failure.kind !== 'console') return [own]
  // Angular: "Http failure response for http://host/path?query: 404 Not Found".
  const requests = [...failure.text.matchAll(/https?:\/\/[^/\s]+(\/[^\s?:]*)\S*: (\d{3})/g)]
  return [
    ...requests.flatMap(([, path, status]) => [
      `GET ${path} → ${status}`,
      `POST ${path} → ${status}`,
    ]),
    own,
  ]
}

/** True when `failure` also happens against signalk-server 2.32.0. */
export function isUpstream(failure: Failure): boolean {
  const seen = signatures(failure)
  return UPSTREAM_FAILURES.some(
    (u) =>
      (u.phase === undefined || u.phase === failure.phase) && seen.some((s) => u.match.test(s)),
  )
}

/**
 * The failures that count against keelson: every page error, console error,
 * failed request, WebSocket error reply and error toast, except those that
 * happen against signalk-server too.
 */
export function isFailure(failure: Failure): boolean {
  if (failure.kind === 'toast' && !isErrorToast(failure.text)) return false
  return !isUpstream(failure)
}

interface Run {
  watched: Watched
  outcome: Outcome
  shot(label: string): Promise<void>
  note(text: string): void
  problem(text: string): void
}

async function begin(browser: Browser, origin: string, name: string): Promise<Run> {
  const watched = await watch(browser, origin)
  const outcome: Outcome = {
    name,
    failures: watched.failures,
    blocked: watched.blocked,
    requests: [],
    notes: [],
    problems: [],
    shots: [],
  }
  return {
    watched,
    outcome,
    async shot(label) {
      const path = artifact(`apps-${name}-${label}.png`)
      await watched.page.screenshot({ path }).catch(() => undefined)
      outcome.shots.push(path)
    },
    note: (text) => void outcome.notes.push(text),
    problem: (text) => void outcome.problems.push(text),
  }
}

async function end(run: Run): Promise<Outcome> {
  await run.watched.readToasts()
  run.outcome.requests = [...new Set(run.watched.requests.map((r) => r.split('?')[0] as string))]
  await run.watched.context.close()
  return run.outcome
}

/** Terminal colours in Playwright's call log. */
const ANSI_COLOUR = new RegExp(`${String.fromCharCode(27)}\\[\\d+m`, 'g')

/** Runs `step`; a step that throws (a timeout) is a problem of the scenario, with a screenshot. */
async function step(run: Run, label: string, body: () => Promise<void>): Promise<boolean> {
  try {
    await body()
    return true
  } catch (err) {
    // Playwright's first line and, for a timeout, what it was waiting for.
    const lines = (err as Error).message.split('\n').filter((l) => l.trim() !== '')
    run.problem(`${label}: ${lines.slice(0, 3).join(' ').replace(ANSI_COLOUR, '')}`)
    await run.shot(`failed-${label.replace(/\W+/g, '-')}`)
    return false
  }
}

/**
 * Freeboard asks whether the internet map service is there (it is not: the
 * page reaches 127.0.0.1 only) and says so in a dialog, a boat at sea sees
 * it too: closed whenever it shows up in front of a step.
 */
async function dismissOffline(page: Page): Promise<void> {
  const dialog = page.locator('mat-dialog-container', {
    hasText: 'Internet Map Service Unavailable',
  })
  await page.addLocatorHandler(dialog, async () => {
    await dialog.getByRole('button', { name: 'OK' }).click()
  })
}

/** Opens `path` on `origin`, a server without users, and watches it for `ms` (toasts, requests, errors). */
export async function openApp(
  browser: Browser,
  origin: string,
  name: string,
  path: string,
  ms = 8000,
): Promise<Outcome> {
  const run = await begin(browser, origin, name)
  run.watched.phase = 'no-users'
  await step(run, 'load', async () => {
    await run.watched.page.goto(`${origin}${path}`, { waitUntil: 'domcontentloaded' })
    await watchToasts(run.watched, ms)
  })
  await run.shot('loaded')
  return end(run)
}

/** The version directory KIP keeps its configuration under (`applicationData/user/kip/<n>`). */
const KIP_CONFIG = /\/signalk\/v1\/applicationData\/user\/kip\/(\d+)\/default$/

/**
 * KIP on a server with a user: Settings → Connectivity → "Login to server",
 * the credentials of {@link SKIPPER}, Sign in; KIP then saves the user's
 * shared configuration (offering to create `default`: Create). It must then
 * be on the server (read back over REST with the user's token) and KIP must
 * load it after a reload, logged in.
 */
export async function kipLogin(
  browser: Browser,
  served: Pick<Served, 'url' | 'login'>,
): Promise<Outcome> {
  const run = await begin(browser, served.url, 'kip-login')
  const { page } = run.watched
  let saved: string | undefined
  page.on('response', (res) => {
    const path = new URL(res.url()).pathname
    if (
      res.request().method() === 'POST' &&
      path.startsWith('/signalk/v1/applicationData/user/kip/')
    ) {
      run.note(`KIP saved its configuration: POST ${path} → ${res.status()}`)
      if (res.ok()) saved = path
    }
  })
  run.watched.phase = 'before-login'
  const ok =
    (await step(run, 'open Connectivity settings', async () => {
      await page.goto(`${served.url}${KIP}#/options`, { waitUntil: 'domcontentloaded' })
      await page.getByText('Login to server').click()
    })) &&
    (await step(run, 'sign in', async () => {
      const dialog = page.locator('mat-dialog-container')
      await dialog.getByLabel('User ID').fill(SKIPPER.name)
      await dialog.getByLabel('Password').fill(SKIPPER.password as string)
      await run.shot('credentials')
      run.watched.phase = 'first-login'
      const login = page.waitForResponse((res) => res.url().endsWith('/signalk/v1/auth/login'))
      await dialog.getByRole('button', { name: 'Sign in' }).click()
      const res = await login
      run.note(`POST /signalk/v1/auth/login → ${res.status()}`)
      if (!res.ok()) throw new Error(`login refused: ${res.status()}`)
      // KIP reloads itself logged in: on a loaded machine that takes a while.
      await page.getByText('Connected, Logged In').waitFor({ timeout: 90_000 })
      run.note('KIP shows "Connected, Logged In"')
    })) &&
    (await step(run, 'save the shared configuration', async () => {
      // A new user: KIP offers to create the configuration `default` (Create), or saves it by
      // itself when its first POST to the version directory was taken; either way until a POST
      // succeeds.
      const create = page.locator(TOAST).getByRole('button', { name: 'Create' })
      const end = Date.now() + 45_000
      while (saved === undefined && Date.now() < end) {
        if (await create.isVisible().catch(() => false)) {
          run.note('KIP offered to create the configuration: Create')
          await create.click().catch(() => undefined)
        }
        await watchToasts(run.watched, 500)
      }
      if (saved === undefined) throw new Error('no POST of the configuration succeeded in 45 s')
      await watchToasts(run.watched, 2000)
    }))
  run.watched.phase = undefined
  if (ok && saved !== undefined) {
    await step(run, 'read the configuration back over REST', async () => {
      const token = await served.login(SKIPPER.name, SKIPPER.password)
      const version = /\/kip\/(\d+)/.exec(saved as string)?.[1]
      const url = `${served.url}/signalk/v1/applicationData/user/kip/${version}/default`
      const res = await fetch(url, { headers: { Authorization: `Bearer ${token}` } })
      const body = (await res.json()) as Record<string, unknown>
      if (res.status !== 200 || typeof body !== 'object' || Object.keys(body).length === 0) {
        throw new Error(`GET ${url} → ${res.status} ${JSON.stringify(body).slice(0, 200)}`)
      }
      run.note(`GET ${new URL(url).pathname} → 200 with ${Object.keys(body).join(', ')}`)
    })
    await step(run, 'reload: KIP loads it, logged in', async () => {
      const loaded = page.waitForResponse(
        (res) => KIP_CONFIG.test(new URL(res.url()).pathname) && res.status() === 200,
        { timeout: 45_000 },
      )
      await page.reload({ waitUntil: 'domcontentloaded' })
      await loaded
      // KIP opens on its dashboard; the login state shows in Connectivity settings.
      await page.goto(`${served.url}${KIP}#/options`, { waitUntil: 'domcontentloaded' })
      await page.getByText('Connected, Logged In').waitFor({ timeout: 45_000 })
      run.note('after a reload KIP read its configuration from the server (200), logged in')
      await watchToasts(run.watched, 3000)
    })
  }
  await run.shot('done')
  return end(run)
}

/** The figures of Freeboard's course panel. */
interface Course {
  bearing: string
  distance: string
}

async function readCourse(page: Page): Promise<Course | undefined> {
  // biome-ignore lint/performance/useDomNodeTextContent: the rendered text, the panel's label, figure and unit on lines of their own
  const text = await page.locator('body').innerText()
  const bearing = /BRG\s+(-?[\d.]+)/.exec(text)?.[1]
  const distance = /DTG\s+(-?[\d.]+)\s*([a-zA-Z]+)/.exec(text)
  return bearing !== undefined && distance !== null
    ? { bearing, distance: `${distance[1]} ${distance[2]}` }
    : undefined
}

/**
 * Freeboard on a server without users (writes from this machine are
 * allowed): "Mark Vessel Position" → SAVE; after a reload the waypoint is in
 * Freeboard's waypoint list; "Navigate to Waypoint" (Go To) shows bearing and
 * distance, which change as the demo boat sails away from the mark.
 */
export async function freeboardWaypoint(
  browser: Browser,
  served: Pick<Served, 'url'>,
): Promise<Outcome> {
  const run = await begin(browser, served.url, 'freeboard-waypoint')
  run.watched.phase = 'no-users'
  const { page } = run.watched
  let name: string | undefined
  const openWaypoints = async () => {
    await page.getByText('layers', { exact: true }).click()
    await page.getByRole('menuitem', { name: 'Waypoints' }).click()
  }
  const ok =
    (await step(run, 'open Freeboard', async () => {
      await dismissOffline(page)
      await page.goto(`${served.url}${FREEBOARD}`, { waitUntil: 'domcontentloaded' })
    })) &&
    (await step(run, 'Mark Vessel Position, SAVE', async () => {
      await page.locator('wpt-button button').click()
      await run.shot('new-waypoint')
      const posted = page.waitForResponse(
        (res) =>
          res.request().method() === 'POST' &&
          new URL(res.url()).pathname === '/signalk/v2/api/resources/waypoints',
      )
      await page.getByRole('button', { name: 'SAVE' }).click()
      const res = await posted
      name = (res.request().postDataJSON() as { name?: string }).name
      run.note(`POST /signalk/v2/api/resources/waypoints "${name}" → ${res.status()}`)
      if (!res.ok()) throw new Error(`the waypoint was not saved: ${res.status()}`)
      await watchToasts(run.watched, 1500)
    })) &&
    (await step(run, 'reload: the waypoint is listed', async () => {
      await page.reload({ waitUntil: 'domcontentloaded' })
      await openWaypoints()
      await page.getByText(name as string, { exact: true }).waitFor()
      run.note(`after a reload Freeboard lists "${name}"`)
      await run.shot('waypoint-list')
    })) &&
    (await step(run, 'Go To the waypoint', async () => {
      const put = page.waitForResponse((res) =>
        res.url().endsWith('/signalk/v2/api/vessels/self/navigation/course/destination'),
      )
      await page.locator('[mattooltip="Navigate to Waypoint"]').first().click()
      const res = await put
      run.note(`PUT …/navigation/course/destination → ${res.status()}`)
      if (!res.ok()) throw new Error(`Go To refused: ${res.status()}`)
    }))
  if (ok) {
    await step(run, 'bearing and distance update', async () => {
      const first = await page
        .waitForFunction(() =>
          // biome-ignore lint/performance/useDomNodeTextContent: the rendered text, as readCourse reads it
          /BRG\s+-?[\d.]+[\s\S]*DTG\s+-?[\d.]+/.test(document.body.innerText),
        )
        .then(() => readCourse(page))
      run.note(`course panel: BRG ${first?.bearing}, DTG ${first?.distance}`)
      await run.shot('go-to')
      const end = Date.now() + 30_000
      let now = first
      while (Date.now() < end) {
        await watchToasts(run.watched, 1000)
        now = await readCourse(page)
        if (now && first && (now.bearing !== first.bearing || now.distance !== first.distance))
          break
      }
      if (!now || !first || (now.bearing === first.bearing && now.distance === first.distance)) {
        throw new Error(`BRG/DTG did not change in 30 s (${JSON.stringify(now)})`)
      }
      run.note(`then: BRG ${now.bearing}, DTG ${now.distance}`)
      await run.shot('go-to-later')
    })
  }
  return end(run)
}
