/**
 * The store of Signal K request replies (`GET /signalk/v1/requests/:id`):
 * bounded by count and by age, whatever clients send.
 */
import { describe, expect, it } from 'vitest'
import { Requests } from '../../src/signalk/requests.js'

const done = (requestId: unknown) => ({
  requestId: requestId as string,
  state: 'COMPLETED' as const,
  statusCode: 200,
})

describe('Requests', () => {
  it('keeps a reply under its id with an href to read it again', () => {
    const requests = new Requests()
    const kept = requests.record(done('a/b'))
    expect(kept.href).toBe('/signalk/v1/requests/a%2Fb')
    expect(requests.get('a/b')).toEqual(kept)
  })

  it('forgets the oldest past the count, and a repeated id counts once', () => {
    const requests = new Requests({ maxCount: 3 })
    for (const id of ['1', '2', '3', '1', '4']) requests.record(done(id))
    expect(requests.size).toBe(3)
    expect(requests.get('2')).toBeUndefined()
    expect(['1', '3', '4'].map((id) => requests.get(id)?.requestId)).toEqual(['1', '3', '4'])
  })

  it('forgets a request older than the age limit', () => {
    let now = 0
    const requests = new Requests({ maxAgeMs: 1000, now: () => now })
    requests.record(done('old'))
    now = 600
    requests.record(done('new'))
    now = 1001
    expect(requests.get('old')).toBeUndefined()
    expect(requests.get('new')).toBeDefined()
    now = 1700
    requests.record(done('later'))
    expect(requests.size).toBe(1)
  })

  it('answers ids it cannot keep without an href, and stays bounded under a flood', () => {
    const requests = new Requests({ maxCount: 100 })
    expect(requests.record(done(7)).href).toBeUndefined()
    expect(requests.record(done('x'.repeat(201))).href).toBeUndefined()
    for (let i = 0; i < 10_000; i++) requests.record(done(`id-${i}`))
    expect(requests.size).toBe(100)
  })
})
