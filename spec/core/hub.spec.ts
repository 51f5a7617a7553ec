import { describe, expect, it, vi } from 'vitest'
import { Hub, ScopedUpdate, type Subscriber } from '../../src/core/hub.js'
import { isObject } from '../../src/core/json.js'
import { parseUrlPath } from '../../src/core/path.js'
import { StateTree } from '../../src/core/state-tree.js'
import type { View } from '../../src/core/view.js'
import { WritePort } from '../../src/core/write-port.js'

function recorder(): Subscriber & { updates: ScopedUpdate[] } {
  const updates: ScopedUpdate[] = []
  return { updates, deliver: (update) => void updates.push(update) }
}

describe('Hub', () => {
  it('delivers a change only to the subscribers whose path it touches', () => {
    const tree = new StateTree()
    const hub = new Hub(tree)
    const nav = recorder()
    const env = recorder()
    const root = recorder()
    hub.subscribe(parseUrlPath('/vessels/self/navigation', tree.selfKey), nav)
    hub.subscribe(parseUrlPath('/vessels/self/environment', tree.selfKey), env)
    hub.subscribe(parseUrlPath('/'), root)
    WritePort.of(tree).patch(parseUrlPath('/vessels/self/navigation/sog', tree.selfKey), {
      value: 1,
    })
    expect(nav.updates.map((u) => u.effect.patch)).toEqual([{ sog: { value: 1 } }])
    expect(env.updates).toHaveLength(0)
    expect(root.updates).toHaveLength(1)
  })

  it('does not visit scopes outside the change (no scoping work for them)', () => {
    const tree = new StateTree()
    const hub = new Hub(tree)
    const subs = Array.from({ length: 50 }, (_, i) => {
      const sub = { deliver: vi.fn() }
      hub.subscribe(parseUrlPath(`/unit${i}/value`), sub)
      return sub
    })
    const spy = vi.spyOn(hub as unknown as { collect: (...args: unknown[]) => void }, 'collect')
    WritePort.of(tree).patch(parseUrlPath('/unit7/value'), 1)
    expect(subs.filter((s) => s.deliver.mock.calls.length > 0)).toEqual([subs[7]])
    // root, unit7, unit7/value: the walk follows the patch, not the 50 scopes.
    expect(spy.mock.calls.length).toBe(3)
  })

  it('hands every subscriber of a path the same update, so a frame is built once', () => {
    const tree = new StateTree()
    const hub = new Hub(tree)
    const build = vi.fn((u: ScopedUpdate) => Buffer.from(u.patchJson))
    const frames: Buffer[] = []
    for (let i = 0; i < 10; i++)
      hub.subscribe(parseUrlPath('/a'), {
        deliver: (u) => void frames.push(u.frame('test', build)),
      })
    WritePort.of(tree).patch(parseUrlPath('/a'), { b: 1 })
    expect(build).toHaveBeenCalledTimes(1)
    expect(new Set(frames).size).toBe(1)
    expect(hub.scopes).toBe(1)
    expect(hub.subscribers).toBe(10)
  })

  it('delivers wildcard scopes their projected patch', () => {
    const tree = new StateTree()
    const hub = new Hub(tree)
    const sub = recorder()
    hub.subscribe(parseUrlPath('/vessels/*/navigation/position'), sub)
    WritePort.of(tree).patch(parseUrlPath('/vessels/urn:a/navigation'), {
      position: { value: { latitude: 1 } },
      sog: { value: 2 },
    })
    WritePort.of(tree).patch(parseUrlPath('/vessels/urn:a/navigation/sog'), { value: 3 })
    expect(sub.updates.map((u) => u.effect.patch)).toEqual([
      { 'urn:a': { navigation: { position: { value: { latitude: 1 } } } } },
    ])
  })

  it('forgets a path when its last subscriber leaves', () => {
    const tree = new StateTree()
    const hub = new Hub(tree)
    const sub = recorder()
    const a = hub.subscribe(parseUrlPath('/a/b'), sub)
    const b = hub.subscribe(parseUrlPath('/a'), sub)
    a.unsubscribe()
    a.unsubscribe()
    expect(hub.scopes).toBe(1)
    b.unsubscribe()
    expect(hub.scopes).toBe(0)
    expect(hub.subscribers).toBe(0)
    WritePort.of(tree).patch(parseUrlPath('/a'), { b: 1 })
    expect(sub.updates).toHaveLength(0)
  })
})

describe('Hub views', () => {
  /** A view that leaves out every `secret` member at the top of the scoped patch. */
  const noSecrets: View = {
    key: 'no-secrets',
    full: false,
    read: (_path, doc) => doc,
    scope: (_path, effect) => {
      if (!isObject(effect.patch)) return effect
      const { secret: _s, ...patch } = effect.patch
      return Object.keys(patch).length === 0 ? undefined : { patch, inverse: effect.inverse }
    },
  }

  it('scopes and filters once per (path, view): readers of one view share the update, each view its own', () => {
    const tree = new StateTree()
    const hub = new Hub(tree)
    const scope = vi.spyOn(noSecrets, 'scope')
    const full: ScopedUpdate[] = []
    const filtered: ScopedUpdate[] = []
    for (let i = 0; i < 3; i++)
      hub.subscribe(parseUrlPath('/a'), { deliver: (u) => void full.push(u) })
    for (let i = 0; i < 3; i++)
      hub.subscribe(parseUrlPath('/a'), { deliver: (u) => void filtered.push(u) }, noSecrets)
    expect(hub.scopes).toBe(1)
    WritePort.of(tree).patch(parseUrlPath('/a'), { open: 1, secret: 2 })
    expect(scope).toHaveBeenCalledTimes(1)
    expect(new Set(full).size).toBe(1)
    expect(new Set(filtered).size).toBe(1)
    expect(full[0]!.effect.patch).toEqual({ open: 1, secret: 2 })
    expect(filtered[0]!.effect.patch).toEqual({ open: 1 })
    WritePort.of(tree).patch(parseUrlPath('/a'), { secret: 3 })
    expect(full).toHaveLength(6)
    expect(filtered).toHaveLength(3)
  })

  it('keeps delivering to every other subscriber when one throws', () => {
    const errors: unknown[] = []
    const tree = new StateTree()
    const hub = new Hub(tree, { onError: (err) => void errors.push(err) })
    const before = recorder()
    const after = recorder()
    hub.subscribe(parseUrlPath('/a'), before)
    hub.subscribe(parseUrlPath('/a'), {
      deliver: () => {
        throw new Error('boom')
      },
    })
    hub.subscribe(parseUrlPath('/a'), after)
    WritePort.of(tree).patch(parseUrlPath('/a'), 1)
    expect(before.updates).toHaveLength(1)
    expect(after.updates).toHaveLength(1)
    expect(errors).toHaveLength(1)
  })
})

describe('ScopedUpdate frames', () => {
  it('builds each kind once, a kind built from another included, and gives both back after', () => {
    const update = new ScopedUpdate(1, { patch: { a: 1 }, inverse: { a: null } })
    const built: string[] = []
    const raw = (u: ScopedUpdate): string => {
      built.push('raw')
      return `raw ${u.patchJson}`
    }
    // As SSE's chunked frame wraps the raw one.
    const chunked = (u: ScopedUpdate): string => {
      built.push('chunked')
      return `chunked(${u.frame('raw', raw)})`
    }
    const other = (): string => {
      built.push('other')
      return 'other'
    }
    for (let i = 0; i < 3; i++) {
      expect(update.frame('chunked', chunked)).toBe('chunked(raw {"a":1})')
      expect(update.frame('raw', raw)).toBe('raw {"a":1}')
      expect(update.frame('other', other)).toBe('other')
    }
    expect(built).toEqual(['chunked', 'raw', 'other'])
  })
})
