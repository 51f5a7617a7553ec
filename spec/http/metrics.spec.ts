import request from 'supertest'
import { afterEach, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app.js'
import { pathOf } from '../../src/core/path.js'
import { type Running, startServer } from '../support/server.js'

const SELF = '/signalk/v1/api/vessels/self'

/** The value of one sample line (`name{labels} value`) of a scrape. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe('/metrics', () => {
  let running: Running | undefined
  afterEach(async () => {
    await running?.close()
    running = undefined
  })

  it('serves the Prometheus text format with the revision and the change counter', async () => {
    const keelson = createApp()
    const http = request(keelson.app)
    await http
      .patch(SELF)
      .set('Content-Type', 'application/merge-patch+json')
      .send('{"navigation":{"speedOverGround":{"value":3}}}')
      .expect(200)
    const res = await http.get('/metrics').expect(200)
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(sample(res.text, 'keelson_revision')).toBe(1)
    expect(sample(res.text, 'keelson_changes_total')).toBe(1)
    expect(sample(res.text, 'keelson_streams_open{transport="sse"}')).toBe(0)
    expect(res.text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge')
    keelson.close()
  })

  it('counts open streams and the events and bytes sent to them', async () => {
    running = await startServer()
    const controller = new AbortController()
    const stream = await fetch(`${running.url}${SELF}`, {
      headers: { Accept: 'text/event-stream' },
      signal: controller.signal,
    })
    const reader = stream.body!.getReader()
    await reader.read()
    const text = await (await fetch(`${running.url}/metrics`)).text()
    expect(sample(text, 'keelson_streams_open{transport="sse"}')).toBe(1)
    expect(sample(text, 'keelson_events_sent_total{transport="sse"}')).toBeGreaterThanOrEqual(1)
    expect(sample(text, 'keelson_bytes_sent_total{transport="sse"}')).toBeGreaterThan(0)
    expect(sample(text, 'keelson_coalesced_total{transport="sse"}')).toBe(0)
    expect(sample(text, 'keelson_stalled_closed_total{transport="sse"}')).toBe(0)
    expect(sample(text, 'keelson_subscribers{kind="subscribers"}')).toBe(1)
    controller.abort()
  })

  it('keeps a registry per app, so two apps in one process do not collide', async () => {
    const a = createApp()
    const b = createApp()
    a.tree.patch(pathOf(['vessels', a.tree.selfKey]), { name: 'A' })
    expect(a.metrics.registry).not.toBe(b.metrics.registry)
    const text = await (await request(b.app).get('/metrics').expect(200)).text
    expect(sample(text, 'keelson_revision')).toBe(0)
    a.close()
    b.close()
  })
})

describe('/healthz', () => {
  it('answers ok with the revision and the number of streams', async () => {
    const keelson = createApp()
    const res = await request(keelson.app).get('/healthz').expect(200)
    expect(res.body).toEqual({ status: 'ok', revision: 0, streams: 0 })
    keelson.close()
  })
})
