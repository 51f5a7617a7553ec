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
    a.writes.patch(pathOf(['vessels', a.tree.selfKey]), { name: 'A' })
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

describe('/metrics for NMEA ingest', () => {
  it("reports each provider's good and bad lines", async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const { loadConfig } = await import('../../src/config.js')
    const { startIngest } = await import('../../src/ingest/ingest.js')
    const file = join(mkdtempSync(join(tmpdir(), 'keelson-metrics-')), 'log.nmea')
    writeFileSync(
      file,
      [
        '$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A',
        '$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*00',
        '\u0001\u0002garbage',
        '',
      ].join('\r\n'),
    )
    const keelson = createApp()
    const ingest = await startIngest(
      keelson,
      loadConfig(['--replay', file, '--replay-rate', '1000'], {}),
    )
    keelson.metrics.addIngest(ingest)
    try {
      await expect.poll(() => ingest.stats()[0]?.counters.lines, { timeout: 3000 }).toBe(3)
      const text = (await request(keelson.app).get('/metrics').expect(200)).text
      const series = (outcome: string) =>
        `keelson_ingest_lines_total{provider="replay-log",kind="replay",outcome="${outcome}"}`
      expect(sample(text, series('lines'))).toBe(3)
      expect(sample(text, series('badChecksum'))).toBe(1)
      expect(sample(text, series('malformed'))).toBe(1)
      expect(sample(text, series('deltas'))).toBe(1)
    } finally {
      await ingest.close()
      keelson.close()
    }
  })
})
