import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app.js'
import type { Json, JsonObject } from '../../src/core/json.js'
import { parseDotPath } from '../../src/core/path.js'
import { distance } from '../../src/course/geodesy.js'
import { applyDelta } from '../../src/signalk/delta.js'
import { type Running, startServer } from '../support/server.js'
import { deltaValues, WsPeer } from '../support/ws-peer.js'

const PERIOD_MS = 40
const HOME = { latitude: 47.5, longitude: -3.03 }
/** 0.02° of latitude north of HOME: 2 223.9 m on a bearing of 0 (R·π/180·0.02). */
const NORTH = { latitude: 47.52, longitude: -3.03 }
const NORTH_M = ((6_371_000 * Math.PI) / 180) * 0.02

let running: Running
let dir: string

async function start(): Promise<void> {
  running = await startServer({ mmsi: '230012345', coursePeriodMs: PERIOD_MS, persistDir: dir })
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keelson-course-'))
  await start()
})

afterEach(async () => {
  await running.close()
  rmSync(dir, { recursive: true, force: true })
})

const course = (path = '') => `${running.url}/signalk/v2/api/vessels/self/navigation/course${path}`

/** A request with a JSON body (a string is sent as it is). */
async function send(
  method: string,
  url: string,
  body?: unknown,
): Promise<{ status: number; json: any }> {
  const res = await fetch(url, {
    method,
    ...(body !== undefined && {
      headers: { 'Content-Type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }),
  })
  const text = await res.text()
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) }
}

const put = (path: string, body?: unknown) => send('PUT', course(path), body)
const getCourse = async () => (await send('GET', course())).json

/** Writes navigation values of the self vessel, as an instrument's delta would. */
function seed(values: Record<string, Json>): void {
  applyDelta(running.keelson.tree, {
    context: 'vessels.self',
    updates: [
      {
        $source: 'gps.GP',
        values: Object.entries(values).map(([path, value]) => ({ path, value })),
      },
    ],
  })
}

/** The leaf at a self vessel dot path. */
function leaf(path: string): JsonObject | undefined {
  const tree = running.keelson.tree
  return tree.get(parseDotPath(`vessels.self.${path}`, tree.selfKey)) as JsonObject | undefined
}

const value = (path: string) => leaf(path)?.value

async function until(predicate: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** The course kept in the persist dir, or undefined. */
function kept(): any {
  try {
    return JSON.parse(readFileSync(join(dir, 'course.json'), 'utf8'))
  } catch {
    return undefined
  }
}

async function createResource(type: string, body: JsonObject): Promise<string> {
  const res = await send('POST', `${running.url}/signalk/v2/api/resources/${type}`, body)
  expect(res.status).toBe(201)
  return res.json.id
}

const waypoint = (name: string, p: { latitude: number; longitude: number }) => ({
  name,
  feature: {
    type: 'Feature',
    geometry: { type: 'Point', coordinates: [p.longitude, p.latitude] },
    properties: {},
  },
})

const route = (name: string, points: { latitude: number; longitude: number }[]) => ({
  name,
  feature: {
    type: 'Feature',
    geometry: { type: 'LineString', coordinates: points.map((p) => [p.longitude, p.latitude]) },
    properties: { coordinatesMeta: points.map((_, i) => ({ name: `Mark ${i}` })) },
  },
})

describe('the course API (signalk-server v2 course API)', () => {
  it('answers no course before one is set', async () => {
    expect(await getCourse()).toEqual({
      startTime: null,
      targetArrivalTime: null,
      arrivalCircle: 0,
      activeRoute: null,
      nextPoint: null,
      previousPoint: null,
    })
    const calc = await send('GET', course('/calcValues'))
    expect(calc.status).toBe(400)
    expect(calc.json.code).toBe('KEELSON_ERR_COURSE_NOT_ACTIVE')
  })

  it('goes to a position: course state in the tree, v1 paths, and bearing and distance from the vessel', async () => {
    seed({
      'navigation.position': HOME,
      'navigation.speedOverGround': 3,
      'navigation.courseOverGroundTrue': 0,
    })
    const res = await put('/destination', { position: NORTH, arrivalCircle: 50 })
    expect(res).toEqual({
      status: 200,
      json: { state: 'COMPLETED', statusCode: 200, message: 'OK' },
    })
    const state = await getCourse()
    expect(state.nextPoint).toEqual({ type: 'Location', position: NORTH, name: 'DP' })
    expect(state.previousPoint).toEqual({ type: 'VesselPosition', position: HOME, name: 'VP' })
    expect(state.arrivalCircle).toBe(50)
    expect(state.activeRoute).toBeNull()
    expect(Date.parse(state.startTime)).toBeGreaterThan(Date.now() - 60_000)
    // Answered once written: the tree holds it already.
    expect(value('navigation.course.nextPoint')).toEqual(state.nextPoint)
    expect(leaf('navigation.course.nextPoint')?.$source).toBe('courseApi')
    expect(value('navigation.course.arrivalCircle')).toBe(50)
    expect(value('navigation.courseGreatCircle.nextPoint.position')).toEqual(NORTH)
    expect(value('navigation.courseRhumbline.previousPoint.position')).toEqual(HOME)

    await until(() => value('navigation.course.calcValues.distance') !== undefined)
    expect(value('navigation.course.calcValues.calcMethod')).toBe('GreatCircle')
    expect(value('navigation.course.calcValues.distance')).toBeCloseTo(NORTH_M, 3)
    expect(value('navigation.course.calcValues.bearingTrue')).toBeCloseTo(0, 9)
    expect(value('navigation.course.calcValues.crossTrackError')).toBeCloseTo(0, 6)
    expect(value('navigation.course.calcValues.velocityMadeGood')).toBeCloseTo(3, 9)
    expect(value('performance.velocityMadeGoodToWaypoint')).toBeCloseTo(3, 9)
    expect(value('navigation.course.calcValues.timeToGo')).toBeCloseTo(NORTH_M / 3, 2)
    expect(leaf('navigation.course.calcValues.distance')?.$source).toBe('course-provider')
    // The units apps convert with (the Signal K schema has none for calcValues).
    const meta = await send(
      'GET',
      `${running.url}/signalk/v1/api/vessels/self/navigation/course/calcValues/distance/meta`,
    )
    expect(meta.json).toMatchObject({ units: 'm' })
    expect(leaf('navigation.course.calcValues.bearingTrue')?.meta).toMatchObject({ units: 'rad' })
    expect(leaf('navigation.course.calcValues.timeToGo')?.meta).toMatchObject({ units: 's' })
    const calc = (await send('GET', course('/calcValues'))).json
    expect(calc.distance).toBeCloseTo(NORTH_M, 3)
    expect(calc.previousPoint).toEqual({ distance: 0 })
    expect(calc.route).toEqual({ timeToGo: null, estimatedTimeOfArrival: null, distance: null })
  })

  it('recalculates as the vessel moves: east of the track the cross-track error is positive', async () => {
    seed({ 'navigation.position': HOME })
    expect((await put('/destination', { position: NORTH })).status).toBe(200)
    await until(() => value('navigation.course.calcValues.distance') !== undefined)
    // Halfway, 0.001° of longitude east (to starboard of a northward track).
    const east = { latitude: 47.51, longitude: -3.029 }
    seed({ 'navigation.position': east })
    await until(() => (value('navigation.course.calcValues.crossTrackError') as number) > 1)
    const xte = value('navigation.course.calcValues.crossTrackError') as number
    // 0.001° of longitude at 47.51°N, along the parallel: R·π/180·0.001·cos(47.51°).
    expect(xte).toBeCloseTo(
      ((6_371_000 * Math.PI) / 180) * 0.001 * Math.cos((47.51 * Math.PI) / 180),
      0,
    )
    expect(value('navigation.course.calcValues.distance')).toBeCloseTo(distance(east, NORTH), 6)
    // The destination is now a little west of north.
    expect(value('navigation.course.calcValues.bearingTrue') as number).toBeGreaterThan(
      Math.PI * 1.9,
    )
  })

  it('goes to a waypoint by its href', async () => {
    seed({ 'navigation.position': HOME })
    const id = await createResource('waypoints', waypoint('Teignouse', NORTH))
    const href = `/resources/waypoints/${id}`
    expect((await put('/destination', { href })).status).toBe(200)
    const state = await getCourse()
    expect(state.nextPoint).toEqual({ href, type: 'Waypoint', position: NORTH, name: 'Teignouse' })
    expect(value('navigation.course.nextPoint')).toEqual(state.nextPoint)
  })

  it('follows a waypoint moved and a route edited while the course uses them', async () => {
    seed({ 'navigation.position': HOME })
    const id = await createResource('waypoints', waypoint('Buoy', NORTH))
    const href = `/resources/waypoints/${id}`
    expect((await put('/destination', { href })).status).toBe(200)
    const moved = { latitude: 47.53, longitude: -3.02 }
    const edit = await send(
      'PUT',
      `${running.url}/signalk/v2/api/resources/waypoints/${id}`,
      waypoint('Buoy', moved),
    )
    expect(edit.status).toBe(200)
    await until(
      () =>
        (value('navigation.course.nextPoint') as JsonObject | undefined)?.position !== undefined &&
        (value('navigation.course.nextPoint') as any).position.latitude === 47.53,
    )
    expect((await getCourse()).nextPoint).toEqual({
      href,
      type: 'Waypoint',
      position: moved,
      name: 'Buoy',
    })
    await until(
      () =>
        Math.abs(
          (value('navigation.course.calcValues.distance') as number) - distance(HOME, moved),
        ) < 1e-6,
    )

    const marks = [HOME, NORTH, moved]
    const rid = await createResource('routes', route('Loop', marks))
    expect(
      (await put('/activeRoute', { href: `/resources/routes/${rid}`, pointIndex: 2 })).status,
    ).toBe(200)
    // The route loses its last point: the course moves to the new last one.
    const shorter = await send(
      'PUT',
      `${running.url}/signalk/v2/api/resources/routes/${rid}`,
      route('Loop', marks.slice(0, 2)),
    )
    expect(shorter.status).toBe(200)
    await until(() => (value('navigation.course.activeRoute') as any)?.pointTotal === 2)
    const state = await getCourse()
    expect(state.activeRoute).toMatchObject({ pointIndex: 1, pointTotal: 2 })
    expect(state.nextPoint).toEqual({ type: 'RoutePoint', position: NORTH, name: 'Mark 1' })
    expect(state.previousPoint.position).toEqual(HOME)
  })

  it('refuses hostile destinations with problem+json and changes nothing', async () => {
    seed({ 'navigation.position': HOME })
    expect((await put('/destination', { position: NORTH })).status).toBe(200)
    const before = await getCourse()
    const stamp = leaf('navigation.course.nextPoint')?.timestamp
    const cases: [unknown, number, string][] = [
      ['{"position":{"latitude":1e999,"longitude":0}}', 400, 'KEELSON_ERR_NOT_FINITE'],
      [{ position: { latitude: 91, longitude: 0 } }, 400, 'KEELSON_ERR_BAD_COURSE'],
      [{ position: { latitude: 0, longitude: -180.5 } }, 400, 'KEELSON_ERR_BAD_COURSE'],
      [{ position: { latitude: '47', longitude: 0 } }, 400, 'KEELSON_ERR_BAD_COURSE'],
      [{ position: [47, -3] }, 400, 'KEELSON_ERR_BAD_COURSE'],
      [{ position: NORTH, href: '/resources/waypoints/x' }, 400, 'KEELSON_ERR_BAD_COURSE'],
      [
        { href: '/resources/waypoints/ac3a3b2d-07e8-4f25-92bc-98e7c92f7f1a' },
        404,
        'KEELSON_ERR_COURSE_HREF_NOT_FOUND',
      ],
      [
        { href: '/resources/routes/ac3a3b2d-07e8-4f25-92bc-98e7c92f7f1a' },
        400,
        'KEELSON_ERR_BAD_COURSE',
      ],
      [{ href: 'http://example.com/x' }, 400, 'KEELSON_ERR_BAD_COURSE'],
      [{ href: 42 }, 400, 'KEELSON_ERR_BAD_COURSE'],
      [{ position: NORTH, arrivalCircle: -1 }, 400, 'KEELSON_ERR_BAD_COURSE'],
      [{ position: NORTH, arrivalCircle: 1e12 }, 400, 'KEELSON_ERR_BAD_COURSE'],
      [{ position: NORTH, extra: 1 }, 400, 'KEELSON_ERR_BAD_COURSE'],
      [{}, 400, 'KEELSON_ERR_BAD_COURSE'],
      [[], 400, 'KEELSON_ERR_BAD_COURSE'],
      ['{"position":', 400, 'KEELSON_ERR_BAD_JSON'],
      [
        '{"__proto__":{"latitude":1},"position":{"latitude":1,"longitude":1}}',
        400,
        'KEELSON_ERR_FORBIDDEN_KEY',
      ],
    ]
    for (const [body, status, code] of cases) {
      const res = await put('/destination', body)
      expect([JSON.stringify(body), res.status, res.json.code]).toEqual([
        JSON.stringify(body),
        status,
        code,
      ])
      expect(res.json.detail).toEqual(expect.any(String))
    }
    // A long unknown key or id is named in the answer, cut short.
    const long = await put('/destination', { ['k'.repeat(100_000)]: 1 })
    expect([long.status, long.json.detail.length < 300]).toEqual([400, true])
    const longId = await put('/destination', {
      href: `/resources/waypoints/${'a'.repeat(100_000)}`,
    })
    expect([longId.status, longId.json.detail.length < 300]).toEqual([404, true])
    const noBody = await fetch(course('/destination'), { method: 'PUT' })
    expect(noBody.status).toBe(415)
    expect(await getCourse()).toEqual(before)
    // Calculated values went on; the course state itself was not written again.
    expect(leaf('navigation.course.nextPoint')?.timestamp).toBe(stamp)
    expect(value('navigation.course.startTime')).toBe(before.startTime)
  })

  it('needs the vessel position to start a course', async () => {
    const res = await put('/destination', { position: NORTH })
    expect(res.status).toBe(400)
    expect(res.json.code).toBe('KEELSON_ERR_COURSE_NO_POSITION')
    expect((await getCourse()).nextPoint).toBeNull()
    expect(leaf('navigation.course')).toBeUndefined()
  })

  it('sets the arrival circle and the target arrival time, and refuses bad ones', async () => {
    expect((await put('/arrivalCircle', { value: 150 })).status).toBe(200)
    expect((await getCourse()).arrivalCircle).toBe(150)
    expect(value('navigation.course.arrivalCircle')).toBe(150)
    expect(value('navigation.courseGreatCircle.nextPoint.arrivalCircle')).toBe(150)
    for (const body of [
      { value: -1 },
      { value: 'NaN' },
      { value: 1e300 },
      {},
      { value: 5, x: 1 },
      '{"value":NaN}',
    ]) {
      const res = await put('/arrivalCircle', body)
      expect(res.status).toBe(400)
    }
    expect((await getCourse()).arrivalCircle).toBe(150)
    // Freeboard-SK sends null for "no arrival circle".
    expect((await put('/arrivalCircle', { value: null })).status).toBe(200)
    expect((await getCourse()).arrivalCircle).toBe(0)

    const at = '2031-06-21T18:00:00Z'
    expect((await put('/targetArrivalTime', { value: at })).status).toBe(200)
    expect((await getCourse()).targetArrivalTime).toBe(at)
    for (const bad of ['tomorrow', '2031-13-45T99:00:00Z', 12, '2031-06-21T18:00:00']) {
      expect((await put('/targetArrivalTime', { value: bad })).status).toBe(400)
    }
    expect((await put('/targetArrivalTime', { value: null })).status).toBe(200)
    expect((await getCourse()).targetArrivalTime).toBeNull()
    expect(leaf('navigation.course.targetArrivalTime')).not.toHaveProperty('value')
  })

  it('restarts the leg from where the vessel is now', async () => {
    expect((await put('/restart')).json.code).toBe('KEELSON_ERR_COURSE_NOT_ACTIVE')
    seed({ 'navigation.position': HOME })
    expect((await put('/destination', { position: NORTH })).status).toBe(200)
    const moved = { latitude: 47.505, longitude: -3.02 }
    seed({ 'navigation.position': moved })
    // Freeboard-SK sends its restart with no body at all.
    expect((await put('/restart')).status).toBe(200)
    expect((await getCourse()).previousPoint).toEqual({
      type: 'VesselPosition',
      position: moved,
      name: 'VP',
    })
    expect(value('navigation.courseGreatCircle.previousPoint.position')).toEqual(moved)
  })

  it('clears the course: nulls in the tree, calculated values emptied, and no more writes', async () => {
    seed({
      'navigation.position': HOME,
      'navigation.speedOverGround': 2,
      'navigation.courseOverGroundTrue': 0,
    })
    expect((await put('/arrivalCircle', { value: 20 })).status).toBe(200)
    expect((await put('/destination', { position: NORTH })).status).toBe(200)
    await until(() => value('performance.velocityMadeGoodToWaypoint') !== undefined)
    const res = await send('DELETE', course())
    expect(res.json).toEqual({ state: 'COMPLETED', statusCode: 200, message: 'OK' })
    expect(await getCourse()).toEqual({
      startTime: null,
      targetArrivalTime: null,
      arrivalCircle: 20,
      activeRoute: null,
      nextPoint: null,
      previousPoint: null,
    })
    // A null value removes the leaf's value, as Signal K's null does (SPEC §1).
    expect(leaf('navigation.course.nextPoint')).not.toHaveProperty('value')
    expect(leaf('navigation.course.calcValues.distance')).not.toHaveProperty('value')
    expect(leaf('performance.velocityMadeGoodToWaypoint')).not.toHaveProperty('value')
    expect(leaf('navigation.courseGreatCircle.nextPoint.position')).not.toHaveProperty('value')
    expect(value('navigation.course.calcValues.calcMethod')).toBe('GreatCircle')
    const rev = running.keelson.tree.rev
    await new Promise((resolve) => setTimeout(resolve, PERIOD_MS * 5))
    expect(running.keelson.tree.rev).toBe(rev)
    expect((await send('GET', course('/calcValues'))).status).toBe(400)
  })

  it('follows a route: legs, point index, reverse, next point and refresh, and refuses bad ones', async () => {
    seed({ 'navigation.position': HOME })
    const marks = [
      HOME,
      { latitude: 47.51, longitude: -3.03 },
      NORTH,
      { latitude: 47.52, longitude: -3.0 },
    ]
    const id = await createResource('routes', route('Teignouse', marks))
    const href = `/resources/routes/${id}`
    expect(
      (await put('/activeRoute', { href, pointIndex: 1, reverse: false, arrivalCircle: 0 })).status,
    ).toBe(200)
    let state = await getCourse()
    expect(state.activeRoute).toEqual({
      href,
      name: 'Teignouse',
      pointIndex: 1,
      pointTotal: 4,
      reverse: false,
    })
    expect(state.nextPoint).toEqual({ type: 'RoutePoint', position: marks[1], name: 'Mark 1' })
    expect(state.previousPoint).toEqual({ type: 'RoutePoint', position: marks[0], name: 'Mark 0' })
    // No arrival circle: the route does not advance by itself while the vessel sits on mark 0.
    expect(state.arrivalCircle).toBe(0)
    expect(value('navigation.courseGreatCircle.activeRoute.href')).toBe(href)
    await until(() => value('navigation.course.calcValues.route.distance') !== undefined)
    // From HOME: 0.01° to mark 1, 0.01° to mark 2, then 0.03° of longitude along 47.52°N.
    const legs =
      distance(HOME, marks[1]!) + distance(marks[1]!, marks[2]!) + distance(marks[2]!, marks[3]!)
    expect(value('navigation.course.calcValues.route.distance')).toBeCloseTo(legs, 3)

    // KIP's "advance waypoint" is a PUT with no body.
    expect((await put('/activeRoute/nextPoint')).status).toBe(200)
    state = await getCourse()
    expect(state.activeRoute.pointIndex).toBe(2)
    expect(state.nextPoint.position).toEqual(marks[2])
    expect(state.previousPoint.position).toEqual(marks[1])
    // Past the end it stays on the last point, as signalk-server does.
    expect((await put('/activeRoute/nextPoint', { value: 5 })).status).toBe(200)
    expect((await getCourse()).activeRoute.pointIndex).toBe(3)
    expect((await put('/activeRoute/nextPoint', { value: -2 })).status).toBe(200)
    expect((await getCourse()).activeRoute.pointIndex).toBe(1)

    expect((await put('/activeRoute/pointIndex', { value: 0 })).status).toBe(200)
    state = await getCourse()
    expect(state.nextPoint.position).toEqual(marks[0])
    expect(state.previousPoint).toEqual({ type: 'VesselPosition', position: HOME, name: 'VP' })

    // Reversed from point 0 going forward: point 3 of the reversed route is mark 0 again.
    expect((await put('/activeRoute/reverse')).status).toBe(200)
    state = await getCourse()
    expect(state.activeRoute).toMatchObject({ reverse: true, pointIndex: 3 })
    expect(state.nextPoint).toEqual({ type: 'RoutePoint', position: marks[0], name: 'Mark 0' })
    expect(state.previousPoint.position).toEqual(marks[1])
    expect((await put('/activeRoute/pointIndex', { value: 1 })).status).toBe(200)
    expect((await getCourse()).nextPoint.position).toEqual(marks[2])
    expect((await put('/activeRoute/refresh', null)).status).toBe(200)
    expect((await getCourse()).activeRoute.pointIndex).toBe(1)

    const before = await getCourse()
    const refusals: [string, unknown, number][] = [
      ['/activeRoute/pointIndex', { value: 4 }, 400],
      ['/activeRoute/pointIndex', { value: -1 }, 400],
      ['/activeRoute/pointIndex', { value: 1.5 }, 400],
      ['/activeRoute/pointIndex', {}, 400],
      ['/activeRoute/nextPoint', { value: 'two' }, 400],
      ['/activeRoute/reverse', { pointIndex: 99 }, 400],
      ['/activeRoute/sideways', {}, 404],
      ['/activeRoute', { href, pointIndex: 4 }, 400],
      ['/activeRoute', { href, pointIndex: -1 }, 400],
      ['/activeRoute', { href, reverse: 'yes' }, 400],
      ['/activeRoute', { href: '/resources/routes/ac3a3b2d-07e8-4f25-92bc-98e7c92f7f1a' }, 404],
      ['/activeRoute', { href: `/resources/waypoints/${id}` }, 400],
      ['/activeRoute', { pointIndex: 0 }, 400],
    ]
    for (const [path, body, status] of refusals) {
      const res = await put(path, body)
      expect([path, JSON.stringify(body), res.status]).toEqual([path, JSON.stringify(body), status])
    }
    expect(await getCourse()).toEqual(before)

    expect((await send('DELETE', course())).status).toBe(200)
    const none = await put('/activeRoute/nextPoint')
    expect([none.status, none.json.code]).toEqual([400, 'KEELSON_ERR_COURSE_NOT_ACTIVE'])
  })

  it('advances along the route on arrival inside the arrival circle, and stays on the last point', async () => {
    seed({ 'navigation.position': HOME })
    const marks = [HOME, { latitude: 47.51, longitude: -3.03 }, NORTH]
    const id = await createResource('routes', route('Leg', marks))
    const href = `/resources/routes/${id}`
    expect((await put('/activeRoute', { href, pointIndex: 1, arrivalCircle: 100 })).status).toBe(
      200,
    )
    // 0.0005° (56 m) short of mark 1: inside the circle.
    seed({ 'navigation.position': { latitude: 47.5095, longitude: -3.03 } })
    await until(
      () =>
        value('navigation.course.activeRoute') !== undefined &&
        (value('navigation.course.activeRoute') as JsonObject).pointIndex === 2,
    )
    const state = await getCourse()
    expect(state.nextPoint).toEqual({ type: 'RoutePoint', position: NORTH, name: 'Mark 2' })
    expect(state.previousPoint).toEqual({ type: 'RoutePoint', position: marks[1], name: 'Mark 1' })
    // Kept as well (the file is written just after the tree).
    await until(() => kept()?.activeRoute?.pointIndex === 2)
    // At the last point: arrived, nothing further to advance to.
    seed({ 'navigation.position': { latitude: 47.5199, longitude: -3.03 } })
    await until(() => (value('navigation.course.calcValues.distance') as number) < 100)
    await new Promise((resolve) => setTimeout(resolve, PERIOD_MS * 4))
    expect((await getCourse()).activeRoute.pointIndex).toBe(2)
  })

  it('keeps the course across a restart (course.json in the persist dir)', async () => {
    seed({ 'navigation.position': HOME })
    expect((await put('/destination', { position: NORTH, arrivalCircle: 75 })).status).toBe(200)
    const state = await getCourse()
    await until(() => kept()?.arrivalCircle === 75)
    await running.close()
    await start()
    expect(await getCourse()).toEqual(state)
    expect(value('navigation.course.nextPoint')).toEqual(state.nextPoint)
    // The calculations run again once the vessel's position is known.
    seed({ 'navigation.position': HOME })
    await until(() => value('navigation.course.calcValues.distance') !== undefined)
    expect(value('navigation.course.calcValues.distance')).toBeCloseTo(NORTH_M, 3)
  })

  it('ignores a kept course.json that is not what it wrote', async () => {
    await running.close()
    const bad = [
      'not json',
      '[]',
      JSON.stringify({
        startTime: null,
        targetArrivalTime: null,
        arrivalCircle: -5,
        activeRoute: null,
        nextPoint: null,
        previousPoint: null,
      }),
      JSON.stringify({
        startTime: null,
        targetArrivalTime: null,
        arrivalCircle: 0,
        activeRoute: { href: '/resources/routes/x', pointIndex: 7, pointTotal: 2, reverse: false },
        nextPoint: { type: 'RoutePoint', position: NORTH },
        previousPoint: { type: 'RoutePoint', position: HOME },
      }),
      JSON.stringify({
        startTime: null,
        targetArrivalTime: null,
        arrivalCircle: 0,
        activeRoute: null,
        nextPoint: { type: 'Location', position: { latitude: 95, longitude: 0 } },
        previousPoint: { type: 'VesselPosition', position: HOME },
      }),
    ]
    for (const text of bad) {
      writeFileSync(join(dir, 'course.json'), text)
      await start()
      expect((await getCourse()).nextPoint).toBeNull()
      expect(leaf('navigation.course')).toBeUndefined()
      await running.close()
    }
    await start()
  })

  it('applies a burst of concurrent changes one at a time: the tree, the answer and the file agree', async () => {
    seed({ 'navigation.position': HOME })
    const targets = Array.from({ length: 40 }, (_, i) => ({
      latitude: 47.52 + i / 1000,
      longitude: -3.03,
    }))
    const answers = await Promise.all(targets.map((position) => put('/destination', { position })))
    expect(answers.every((a) => a.status === 200)).toBe(true)
    const state = await getCourse()
    expect(targets).toContainEqual(state.nextPoint.position)
    expect(value('navigation.course.nextPoint')).toEqual(state.nextPoint)
    expect(value('navigation.courseGreatCircle.nextPoint.position')).toEqual(
      state.nextPoint.position,
    )
    await until(() => JSON.stringify(kept()?.nextPoint) === JSON.stringify(state.nextPoint))
    await until(
      () =>
        Math.abs(
          (value('navigation.course.calcValues.distance') as number) -
            distance(HOME, state.nextPoint.position),
        ) < 1e-6,
    )
  })

  it('stops calculating when the app is closed', async () => {
    const app = createApp({ coursePeriodMs: PERIOD_MS })
    applyDelta(app.tree, {
      updates: [{ $source: 'gps.GP', values: [{ path: 'navigation.position', value: HOME }] }],
    })
    await app.course.setDestination({ position: NORTH })
    const calculated = () =>
      (
        app.tree.get(
          parseDotPath('vessels.self.navigation.course.calcValues.distance', app.tree.selfKey),
        ) as JsonObject | undefined
      )?.value
    await until(() => calculated() !== undefined)
    const rev = app.tree.rev
    await until(() => app.tree.rev > rev + 1)
    app.close()
    const closed = app.tree.rev
    await new Promise((resolve) => setTimeout(resolve, PERIOD_MS * 5))
    expect(app.tree.rev).toBe(closed)
    await expect(app.course.clear()).rejects.toMatchObject({ code: 'KEELSON_ERR_UNAVAILABLE' })
  })

  it('sends the course and its values to a Signal K WebSocket subscriber, as Freeboard-SK reads them', async () => {
    seed({ 'navigation.position': HOME })
    const peer = await WsPeer.open(
      `${running.url.replace('http', 'ws')}/signalk/v1/stream?subscribe=none`,
    )
    try {
      await peer.next()
      peer.send({ context: 'vessels.self', subscribe: [{ path: 'navigation.course.*' }] })
      await peer.drain()
      expect((await put('/destination', { position: NORTH })).status).toBe(200)
      const seen = new Map<string, unknown>()
      await until(() => {
        for (const v of deltaValues(peer.messages)) seen.set(v.path, v.value)
        return seen.has('navigation.course.calcValues.distance')
      })
      expect(seen.get('navigation.course.nextPoint')).toEqual({
        type: 'Location',
        position: NORTH,
        name: 'DP',
      })
      expect(seen.get('navigation.course.calcValues.distance')).toBeCloseTo(NORTH_M, 3)
      expect((await send('DELETE', course())).status).toBe(200)
      await until(() => {
        for (const v of deltaValues(peer.messages)) seen.set(v.path, v.value)
        return seen.get('navigation.course.nextPoint') === null
      })
    } finally {
      peer.close()
    }
  })
})
