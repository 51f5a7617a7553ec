/**
 * Freeboard-SK 3.1.1 served by keelson in headless Chromium (issue 14,
 * SPEC §11): installed at test time with `npm install --no-save` outside the
 * repo, skipped with a notice when Chromium or the npm registry is missing.
 * The page reaches 127.0.0.1 only (no map tiles: Freeboard's "Internet Map
 * Service Unavailable" dialog is closed as a boat owner at sea would);
 * screenshots go to spec/.artifacts/apps-freeboard-*.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HAS_CHROMIUM, launch } from '../support/browser.js'
import { type Installed, installApps, type Served, serveApps } from './harness.js'
import { FREEBOARD, freeboardWaypoint, isFailure, type Outcome, openApp } from './scenarios.js'

const installed: Installed = HAS_CHROMIUM
  ? await installApps()
  : { skip: '/usr/bin/chromium is missing' }
if ('skip' in installed) console.warn(`spec/apps/freeboard.spec.ts skipped: ${installed.skip}`)
const modules = 'modules' in installed ? installed.modules : ''

/** The demo voyage at ten times its pace (75 NMEA lines a second): the boat moves ~35 m a second. */
const FAST = 75

function verdict(outcome: Outcome) {
  return { problems: outcome.problems, failures: outcome.failures.filter(isFailure) }
}

describe.skipIf('skip' in installed)('Freeboard-SK 3.1.1 served by keelson', () => {
  let browser: Browser
  let served: Served | undefined

  beforeAll(async () => {
    browser = await launch()
  }, 60_000)
  afterAll(async () => {
    await served?.close()
    await browser?.close()
  }, 60_000)

  it('opens with no error toast, no failing request and no error on the console', async () => {
    served = await serveApps(modules)
    const outcome = await openApp(browser, served.url, 'freeboard', FREEBOARD)
    await served.close()
    served = undefined
    expect(outcome.requests).toContain('GET /signalk/v2/api/resources/waypoints')
    expect(verdict(outcome)).toEqual({ problems: [], failures: [] })
  }, 120_000)

  it('saves a waypoint, lists it after a reload, and Go To shows bearing and distance changing', async () => {
    served = await serveApps(modules, [], {}, FAST)
    const outcome = await freeboardWaypoint(browser, served)
    // The waypoint is the server's, not the page's: it is in the v2 resources API.
    const res = await fetch(`${served.url}/signalk/v2/api/resources/waypoints`)
    const waypoints = (await res.json()) as Record<string, { name?: string }>
    await served.close()
    served = undefined
    expect(verdict(outcome)).toEqual({ problems: [], failures: [] })
    const saved = /"(Wpt-[^"]+)"/.exec(outcome.notes[0] ?? '')?.[1]
    expect(Object.values(waypoints).map((w) => w.name)).toContain(saved)
    expect(outcome.notes.some((n) => n.startsWith('then: BRG'))).toBe(true)
  }, 240_000)
})
