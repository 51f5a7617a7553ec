/**
 * The HTTP endpoints of fleet telemetry (SPEC §6), as the vendor guide's
 * client calls them:
 *
 * - `GET /api/v1/monitoring/unit/:unitId` and
 *   `GET /api/v1/monitoring/vehicle/:vehicleId/primary` →
 *   `{"data":{"token","unit_id","expires_at"}}`
 * - `GET /sse/telemetry/connect` — the SSE stream
 * - `POST /sse/telemetry/pong/:stream_id`
 * - `POST /sse/telemetry/subscribe/:stream_id/:token` and
 *   `POST /sse/telemetry/unsubscribe/:stream_id/:token` — 204, idempotent
 * - `GET /examples/fleet.html` — the guide's example page, without a CDN
 *
 * Errors are the app's problem+json answers (src/http/problem.ts).
 */
import { readFileSync } from 'node:fs'
import express, { type RequestHandler, type Router } from 'express'
import type { Telemetry } from './telemetry.js'

/** The router of the telemetry endpoints of `telemetry`. */
export function telemetryRouter(telemetry: Telemetry): Router {
  const router = express.Router()
  router.get('/api/v1/monitoring/unit/:unitId', async (req, res) => {
    const data = await telemetry.issue(req, req.params.unitId)
    res.set('Cache-Control', 'no-store').json({ data })
  })
  router.get('/api/v1/monitoring/vehicle/:vehicleId/primary', async (req, res) => {
    const data = await telemetry.issue(req, '', req.params.vehicleId)
    res.set('Cache-Control', 'no-store').json({ data })
  })
  router.get('/sse/telemetry/connect', async (req, res) => {
    await telemetry.connect(req, res)
  })
  router.post('/sse/telemetry/pong/:streamId', (req, res) => {
    telemetry.pong(req.params.streamId)
    res.status(204).end()
  })
  // The token is checked before the stream: a missing token is a 401 too.
  const subscribe: RequestHandler = async (req, res) => {
    await telemetry.subscribeById(String(req.params.streamId), String(req.params.token ?? ''))
    res.status(204).end()
  }
  const unsubscribe: RequestHandler = async (req, res) => {
    await telemetry.unsubscribeById(String(req.params.streamId), String(req.params.token ?? ''))
    res.status(204).end()
  }
  router.post('/sse/telemetry/subscribe/:streamId', subscribe)
  router.post('/sse/telemetry/subscribe/:streamId/:token', subscribe)
  router.post('/sse/telemetry/unsubscribe/:streamId', unsubscribe)
  router.post('/sse/telemetry/unsubscribe/:streamId/:token', unsubscribe)
  const page = readFileSync(new URL('../web/examples/fleet.html', import.meta.url), 'utf8')
  router.get('/examples/fleet.html', (_req, res) => {
    res.type('html').set('Cache-Control', 'no-cache').send(page)
  })
  return router
}
