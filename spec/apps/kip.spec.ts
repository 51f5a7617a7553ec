/**
 * KIP 4.8.5 served by keelson in headless Chromium (issue 14, SPEC §11):
 * installed at test time with `npm install --no-save` outside the repo,
 * skipped with a notice when Chromium or the npm registry is missing. The
 * page reaches 127.0.0.1 only; screenshots go to spec/.artifacts/apps-kip-*.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HAS_CHROMIUM, launch } from '../support/browser.js'
import { type Installed, installApps, type Served, SKIPPER, serveApps } from './harness.js'
import { isFailure, KIP, kipLogin, type Outcome, openApp } from './scenarios.js'

const installed: Installed = HAS_CHROMIUM
  ? await installApps()
  : { skip: '/usr/bin/chromium is missing' }
if ('skip' in installed) console.warn(`spec/apps/kip.spec.ts skipped: ${installed.skip}`)
const modules = 'modules' in installed ? installed.modules : ''

/** What the test reports when a check fails: the outcome's problems and failures, readable. */
function verdict(outcome: Outcome) {
  return { problems: outcome.problems, failures: outcome.failures.filter(isFailure) }
}

describe.skipIf('skip' in installed)('KIP 4.8.5 served by keelson', () => {
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
    const outcome = await openApp(browser, served.url, 'kip', KIP)
    await served.close()
    served = undefined
    // It connected: KIP asked the server for its endpoints and opened the stream.
    expect(outcome.requests).toContain('GET /signalk/')
    expect(verdict(outcome)).toEqual({ problems: [], failures: [] })
  }, 120_000)

  it('logs in and saves its configuration on the server, and loads it after a reload', async () => {
    served = await serveApps(modules, [SKIPPER])
    const outcome = await kipLogin(browser, served)
    await served.close()
    served = undefined
    expect(verdict(outcome)).toEqual({ problems: [], failures: [] })
    expect(outcome.notes.some((n) => n.startsWith('GET /signalk/v1/applicationData/'))).toBe(true)
  }, 300_000)
})
