/**
 * The changes the injector writes: one numeric value at a time, rotating over
 * a few Signal K paths of the self vessel. The value is the send time
 * (`performance.now()` of the load generator, ms), so any client in that
 * process reads its latency straight from the event.
 */

/** The Signal K paths written in turn, as dot paths. */
export const PATHS = [
  'navigation.speedOverGround',
  'navigation.courseOverGroundTrue',
  'navigation.headingTrue',
  'environment.wind.speedApparent',
  'environment.wind.angleApparent',
  'environment.depth.belowTransducer',
  'propulsion.main.revolutions',
  'electrical.batteries.house.voltage',
] as const

/** The text every client searches for; the number that follows is a send time. */
export const VALUE_MARKER = '"value":'

/** A merge patch of the self vessel setting `path` to `value`. */
export function vesselPatch(path: string, value: number): string {
  const keys = path.split('.')
  return `${keys.map((k) => `{"${k}":`).join('')}{"value":${value}}${'}'.repeat(keys.length)}`
}

/** A Signal K delta setting `path` of the self vessel to `value`. */
export function signalkDelta(path: string, value: number): string {
  return `{"context":"vessels.self","updates":[{"values":[{"path":"${path}","value":${value}}]}]}`
}

/** Every path at 0: the state servers start with, so the snapshot has its final shape. */
export function seedPatch(paths: readonly string[] = PATHS): Record<string, unknown> {
  const root: Record<string, unknown> = {}
  for (const path of paths) {
    let node = root
    const keys = path.split('.')
    for (const key of keys.slice(0, -1)) {
      node[key] ??= {}
      node = node[key] as Record<string, unknown>
    }
    node[keys[keys.length - 1]!] = { value: 0 }
  }
  return root
}

/** Send times only grow, so every change is a real change (a no-op write makes no event). */
export class Clock {
  private last = 0

  /** The current send time, strictly above the previous one, 1 µs resolution. */
  now(): number {
    let t = Math.round(performance.now() * 1000) / 1000
    if (t <= this.last) t = Math.round((this.last + 0.001) * 1000) / 1000
    this.last = t
    return t
  }
}
