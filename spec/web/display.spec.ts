import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Restartable } from '../client/restartable.js'
import { artifact, HAS_CHROMIUM, launch } from '../support/browser.js'

let browser: Browser | undefined
let server: Restartable | undefined
let page: Page | undefined
/** Console errors and page errors of the current page. */
let errors: string[] = []

beforeAll(async () => {
  if (HAS_CHROMIUM) browser = await launch()
})

afterAll(async () => {
  await browser?.close()
})

afterEach(async () => {
  await page?.close()
  page = undefined
  await server?.close()
  server = undefined
})

/** Writes a Signal K value (value, timestamp, $source) at a self vessel dot path. */
function write(path: string, value: unknown, ageMs = 0, context = '/vessels/self'): void {
  server!.patch(`${context}/${path.split('.').join('/')}`, {
    value: value as never,
    $source: 'test.XX',
    timestamp: new Date(Date.now() - ageMs).toISOString(),
  })
}

async function open(viewport = { width: 1280, height: 900 }): Promise<Page> {
  errors = []
  page = await browser!.newPage({ viewport })
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text())
  })
  page.on('pageerror', (err) => errors.push(err.message))
  await page.goto(`${server!.url}/`)
  await page.waitForSelector('html[data-connection="live"]', { timeout: 10_000 })
  return page
}

function tile(path: string): { value: string; unit: string; age: string } {
  return {
    value: `[data-path="${path}"] .value`,
    unit: `[data-path="${path}"] .unit`,
    age: `[data-path="${path}"] .age`,
  }
}

async function shows(path: string, text: string, timeout = 3000): Promise<number> {
  const started = Date.now()
  await page!.waitForFunction(
    ([selector, want]) => document.querySelector(selector!)?.textContent === want,
    [tile(path).value, text],
    { timeout },
  )
  return Date.now() - started
}

describe.skipIf(!HAS_CHROMIUM)('the live display at / in headless Chromium', () => {
  it('shows a value written into the tree within 1 s, in the unit a sailor reads', async () => {
    server = await Restartable.start()
    write('navigation.speedOverGround', 3)
    write('navigation.headingTrue', Math.PI / 2)
    write('environment.depth.belowTransducer', 7.25)
    write('environment.water.temperature', 290.15)
    write('environment.wind.angleApparent', -0.5)
    await open()
    await shows('navigation.speedOverGround', '5.8')
    const written = Date.now()
    write('navigation.speedOverGround', 5)
    await shows('navigation.speedOverGround', '9.7', 1000)
    const latency = Date.now() - written
    expect(latency).toBeLessThan(1000)
    const text = (selector: string) => page!.locator(selector).textContent()
    expect(await text(tile('navigation.speedOverGround').unit)).toBe('kn')
    expect(await text(tile('navigation.headingTrue').value)).toBe('090')
    expect(await text(tile('environment.depth.belowTransducer').value)).toBe('7.3')
    expect(await text(tile('environment.depth.belowTransducer').unit)).toBe('m')
    expect(await text(tile('environment.water.temperature').value)).toBe('17.0')
    expect(await text(tile('environment.water.temperature').unit)).toBe('°C')
    expect(await text(tile('environment.wind.angleApparent').value)).toBe('29')
    expect(await text(tile('environment.wind.angleApparent').unit)).toBe('° P')
    expect(await text('#event-id')).toMatch(/.+/)
    await page!.screenshot({ path: artifact('display-values.png'), fullPage: true })
    expect(errors).toEqual([])
    console.info(`display: a written value shown after ${latency} ms`)
  })

  it('marks a value stale when it is older than a few seconds', async () => {
    server = await Restartable.start()
    write('navigation.speedOverGround', 3, 20_000)
    write('environment.depth.belowTransducer', 7, 0)
    await open()
    await page!.waitForSelector('[data-path="navigation.speedOverGround"].stale')
    expect(await page!.locator(tile('navigation.speedOverGround').age).textContent()).toMatch(
      /^2\d s old$/,
    )
    expect(
      await page!.locator('[data-path="environment.depth.belowTransducer"].stale').count(),
    ).toBe(0)
    expect(errors).toEqual([])
  })

  it('goes reconnecting when the server stops and live again when it returns, with the values it missed', async () => {
    server = await Restartable.start()
    write('environment.depth.belowTransducer', 7)
    await open()
    await shows('environment.depth.belowTransducer', '7.0')
    await server.stop()
    await page!.waitForSelector('html[data-connection="reconnecting"]', { timeout: 5000 })
    expect(await page!.locator('#connection-text').textContent()).toMatch(/^reconnecting/)
    await page!.screenshot({ path: artifact('display-reconnecting.png'), fullPage: true })
    write('environment.depth.belowTransducer', 12.5)
    write('navigation.speedOverGround', 4)
    await server.resume()
    await page!.waitForSelector('html[data-connection="live"]', { timeout: 10_000 })
    await shows('environment.depth.belowTransducer', '12.5')
    await shows('navigation.speedOverGround', '7.8')
    await page!.screenshot({ path: artifact('display-live-again.png'), fullPage: true })
    // While the server is down, Chromium logs each refused connection; nothing else may be logged.
    expect(errors.filter((e) => !/ERR_CONNECTION_REFUSED/.test(e))).toEqual([])
  })

  it('draws the compass, wind rose, track, sparklines and AIS targets with distance and bearing', async () => {
    server = await Restartable.start()
    write('navigation.position', { latitude: 47.5, longitude: -3 })
    write('navigation.headingTrue', (135 * Math.PI) / 180)
    write('navigation.courseOverGroundTrue', (140 * Math.PI) / 180)
    write('environment.wind.angleApparent', 0.7)
    write('environment.wind.speedApparent', 6)
    write('navigation.speedOverGround', 3)
    write('environment.depth.belowTransducer', 9)
    const target = '/vessels/urn:mrn:imo:mmsi:227987650'
    server.patch(target, { name: 'PEN DUICK', mmsi: '227987650' })
    // One nautical mile due north is one minute of latitude.
    write('navigation.position', { latitude: 47.5 + 1 / 60, longitude: -3 }, 0, target)
    write('navigation.speedOverGround', 3.6, 0, target)
    await open()
    await page!.waitForFunction(() => document.querySelectorAll('#ais tbody tr').length === 1)
    const cells = await page!.locator('#ais tbody tr td').allTextContents()
    expect(cells).toEqual(['PEN DUICK', '227987650', '1.00 NM', '000°', '7.0 kn'])
    expect(await page!.locator('#compass text').allTextContents()).toContain('135')
    expect(await page!.locator('#wind text').allTextContents()).toContain('11.7')
    expect(await page!.locator('#track circle.here').count()).toBe(1)
    expect(await page!.locator('#spark-sog polyline').count()).toBe(1)
    expect(await page!.locator('#spark-depth polyline').count()).toBe(1)
    await page!.screenshot({ path: artifact('display-desktop.png'), fullPage: true })

    await page!.setViewportSize({ width: 390, height: 844 })
    const overflow = await page!.evaluate(() => document.documentElement.scrollWidth)
    expect(overflow).toBeLessThanOrEqual(390)
    await page!.screenshot({ path: artifact('display-phone.png'), fullPage: true })
    expect(errors).toEqual([])
  })

  it('follows prefers-color-scheme and switches to a red night mode with its toggle', async () => {
    server = await Restartable.start()
    write('navigation.speedOverGround', 3)
    await open({ width: 390, height: 844 })
    const background = () => page!.evaluate(() => getComputedStyle(document.body).backgroundColor)
    await page!.emulateMedia({ colorScheme: 'light' })
    const light = await background()
    await page!.emulateMedia({ colorScheme: 'dark' })
    const dark = await background()
    expect(dark).not.toBe(light)
    for (const mode of ['day', 'dark', 'night']) {
      await page!.click('#theme')
      expect(await page!.evaluate(() => document.documentElement.dataset.theme)).toBe(mode)
    }
    expect(await background()).toBe('rgb(0, 0, 0)')
    expect(
      await page!.evaluate(() => getComputedStyle(document.querySelector('.value')!).color),
    ).toBe('rgb(255, 59, 47)')
    await page!.screenshot({ path: artifact('display-night-phone.png'), fullPage: true })
    await page!.reload()
    expect(await page!.evaluate(() => document.documentElement.dataset.theme)).toBe('night')
    expect(errors).toEqual([])
  })
})
