/**
 * `/examples/fleet.html` (SPEC §6) in headless Chromium: the guide's client
 * as a page — EventSource, fetch for token, subscribe and pong — lists the
 * units, and a ticked unit's `gps` messages appear in its log.
 */
import type { Browser } from 'playwright-core'
import { afterEach, describe, expect, it } from 'vitest'
import { HAS_CHROMIUM, launch } from '../support/browser.js'
import { type Running, startServer } from '../support/server.js'
import { fix, seedVessel, UNIT_A, UNIT_B } from './support.js'

let running: Running | undefined
let browser: Browser | undefined
let timer: NodeJS.Timeout | undefined

afterEach(async () => {
  clearInterval(timer)
  await browser?.close()
  await running?.close()
  browser = undefined
  running = undefined
})

describe.skipIf(!HAS_CHROMIUM)('the fleet example page in Chromium', () => {
  it('receives gps messages for a ticked unit and answers pings', async () => {
    running = await startServer({ pingIntervalMs: 200, pongTimeoutMs: 1000 })
    const { url, keelson } = running
    seedVessel(keelson.tree, UNIT_A, { ...fix(60, 25), name: 'Alfa' })
    seedVessel(keelson.tree, UNIT_B, fix(59, 24))
    browser = await launch()
    const page = await browser.newPage()
    const errors: string[] = []
    const consoleLines: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    page.on('console', (message) => consoleLines.push(message.text()))
    await page.goto(`${url}/examples/fleet.html`)
    await page.waitForFunction(() =>
      document.getElementById('status')?.textContent?.startsWith('open'),
    )
    await page.locator(`#units input[value="${UNIT_A}"]`).check()
    await page.waitForSelector(`#log [data-type="gps"][data-unit="${UNIT_A}"]`)
    let latitude = 60
    timer = setInterval(() => {
      latitude += 0.001
      seedVessel(keelson.tree, UNIT_A, { 'navigation.position': { latitude, longitude: 25 } })
      seedVessel(keelson.tree, UNIT_B, { 'navigation.position': { latitude, longitude: 24 } })
    }, 50)
    await page.waitForFunction(
      (unit) =>
        document.querySelectorAll(`#log [data-type="gps"][data-unit="${unit}"]`).length >= 5,
      UNIT_A,
    )
    // Pings are answered: the stream outlives the pong deadline.
    await page.waitForFunction(
      () => document.querySelectorAll('#log [data-type="ping"]').length >= 8,
    )
    expect(keelson.telemetry.size).toBe(1)
    expect(keelson.telemetry.stats.pongTimeouts).toBe(0)
    expect(await page.locator(`#log [data-unit="${UNIT_B}"]`).count()).toBe(0)
    expect(consoleLines.some((line) => line.startsWith(`gps ${UNIT_A}: lat 60.`))).toBe(true)
    expect(errors).toEqual([])
  })
})
