/**
 * Cross-site writes (SPEC §8) from a real browser, headless Chromium: a page
 * of a foreign origin (a second server on another port, or a rebound DNS
 * name) cannot write into keelson over REST or the WebSocket — with no users
 * (the no-users rule: Origin and Host checked), nor with users by riding the
 * JAUTHENTICATION cookie (same-site across ports, so the browser sends it).
 * Positive controls: keelson's own page writes, so the refusals are real.
 * Skipped when Chromium is missing.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { HAS_CHROMIUM, launch } from '../support/browser.js'
import { PASSWORD, type Secured, startSecured } from '../support/secured.js'

/** A name the browser resolves to 127.0.0.1: a page of it is a DNS-rebinding attacker. */
const REBOUND = 'attacker.test'

let browser: Browser | undefined
let foreign: Server | undefined
let foreignPort = 0
let running: Secured | undefined
let page: Page | undefined

beforeAll(async () => {
  if (!HAS_CHROMIUM) return
  browser = await launch([`--host-resolver-rules=MAP ${REBOUND} 127.0.0.1`])
  foreign = createServer((_req, res) => {
    res.setHeader('Content-Type', 'text/html; charset=utf-8')
    res.end('<!doctype html><title>someone else</title><p>nothing to see</p>')
  })
  await new Promise<void>((resolve) => foreign!.listen(0, '127.0.0.1', resolve))
  foreignPort = (foreign.address() as AddressInfo).port
  // One page for the file: opening a page costs a second or more here, navigating a few ms.
  page = await (await browser.newContext()).newPage()
}, 30_000)

afterAll(async () => {
  await browser?.close()
  await new Promise<void>((resolve) => (foreign ? foreign.close(() => resolve()) : resolve()))
})

afterEach(async () => {
  await page?.context().clearCookies()
  await running?.close()
  running = undefined
})

/** What a page got when it tried to write. */
interface Attempt {
  /** The PATCH's status, or the error the browser raised (a refused preflight). */
  patch: number | string
  /** What the WebSocket received after sending a delta, or how it failed. */
  ws: unknown[]
}

/** In the page: a PATCH over fetch and a delta over the WebSocket to keelson at `base`. */
function attempt(page: Page, base: string): Promise<Attempt> {
  return page.evaluate(async (base) => {
    const out: { patch: number | string; ws: unknown[] } = { patch: '', ws: [] }
    try {
      const res = await fetch(`${base}/signalk/v1/api/vessels/self/navigation/speedOverGround`, {
        method: 'PATCH',
        credentials: 'include',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ value: 99 }),
      })
      out.patch = res.status
    } catch (err) {
      out.patch = String(err)
    }
    await new Promise<void>((resolve) => {
      const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/signalk/v1/stream?subscribe=none`)
      const timer = setTimeout(() => {
        out.ws.push('timeout')
        ws.close()
        resolve()
      }, 3000)
      ws.onopen = () => {
        ws.send(
          JSON.stringify({
            context: 'vessels.self',
            requestId: 'evil',
            updates: [{ values: [{ path: 'navigation.speedOverGround', value: 99 }] }],
          }),
        )
        // A round trip: its error answer comes after anything the delta caused.
        ws.send(JSON.stringify({ requestId: 'sync', sync: true }))
      }
      ws.onmessage = (event) => {
        const message = JSON.parse(String(event.data))
        if (message.requestId !== undefined) out.ws.push(message)
        if (message.requestId === 'sync') {
          clearTimeout(timer)
          ws.close()
          resolve()
        }
      }
      ws.onclose = (event) => {
        clearTimeout(timer)
        out.ws.push(`closed ${event.code}`)
        resolve()
      }
    })
    return out
  }, base)
}

function speed(server: Secured): unknown {
  return server.keelson.tree.get({
    segments: ['vessels', 'urn:mrn:imo:mmsi:230099999', 'navigation', 'speedOverGround', 'value'],
    starAt: -1,
  })
}

/** The page, at `url`. */
async function openPage(url: string): Promise<Page> {
  await page!.goto(url)
  return page!
}

describe.skipIf(!HAS_CHROMIUM)('a page of a foreign origin in Chromium', () => {
  it('cannot write over REST or the WebSocket while no users exist; keelson’s own page can', async () => {
    running = await startSecured()
    running.seed('navigation.speedOverGround', 3.5)
    const base = running.url
    const before = running.keelson.tree.rev

    const evil = await attempt(await openPage(`http://127.0.0.1:${foreignPort}/`), base)
    expect(typeof evil.patch).toBe('string') // the preflight is refused: the PATCH never leaves
    expect(evil.ws).toContainEqual(
      expect.objectContaining({
        requestId: 'evil',
        statusCode: 403,
        code: 'KEELSON_ERR_CORS_ORIGIN',
      }),
    )
    expect(running.keelson.tree.rev).toBe(before)
    expect(speed(running)).toBe(3.5)

    // Control: the same calls from keelson's own page write.
    const own = await attempt(await openPage(`${base}/healthz`), base)
    expect(own.patch).toBe(200)
    expect(own.ws).toEqual([expect.objectContaining({ requestId: 'sync' })])
    expect(speed(running)).toBe(99)
  })

  it('cannot write through a DNS name rebound to 127.0.0.1 (Host and Origin refused)', async () => {
    running = await startSecured()
    running.seed('navigation.speedOverGround', 3.5)
    const before = running.keelson.tree.rev
    // The attacker's page and keelson now share an origin: same-origin, no CORS in the way.
    const rebound = `http://${REBOUND}:${running.port}`
    const evil = await attempt(await openPage(`${rebound}/healthz`), rebound)
    expect(evil.patch).toBe(403)
    expect(evil.ws).toContainEqual(expect.objectContaining({ requestId: 'evil', statusCode: 403 }))
    expect(running.keelson.tree.rev).toBe(before)
    expect(speed(running)).toBe(3.5)
  })

  it('cannot write with a logged-in user’s cookie, which the browser sends it; keelson’s own page can', async () => {
    running = await startSecured({
      users: [{ name: 'skipper', type: 'readwrite' }],
      file: { allowReadonly: false },
    })
    running.seed('navigation.speedOverGround', 3.5)
    const base = running.url
    const own = await openPage(`${base}/healthz`)
    const status = await own.evaluate(
      async ([base, password]) =>
        (
          await fetch(`${base}/signalk/v1/auth/login`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ username: 'skipper', password }),
          })
        ).status,
      [base, PASSWORD] as const,
    )
    expect(status).toBe(200)
    const before = running.keelson.tree.rev

    // The same browser (same cookie jar) visits a page of another port of the same host.
    const evil = await attempt(await openPage(`http://127.0.0.1:${foreignPort}/`), base)
    expect(typeof evil.patch).toBe('string')
    // The upgrade was taken (allowReadonly is false: the cookie went along), the delta refused.
    expect(evil.ws).toContainEqual(
      expect.objectContaining({
        requestId: 'evil',
        statusCode: 403,
        code: 'KEELSON_ERR_CORS_ORIGIN',
      }),
    )
    expect(running.keelson.tree.rev).toBe(before)
    expect(speed(running)).toBe(3.5)

    // Control: keelson's own page writes with the cookie.
    const mine = await attempt(await openPage(`${base}/healthz`), base)
    expect(mine.patch).toBe(200)
    expect(mine.ws).toEqual([expect.objectContaining({ requestId: 'sync' })])
    expect(speed(running)).toBe(99)
  })
})
