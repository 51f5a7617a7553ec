/**
 * Signal K values in the units a sailor reads. Signal K stores SI units and
 * names them in each path's meta `units`; the conversion is chosen by that
 * unit, so a path the display does not know still shows correctly.
 *
 * @see https://signalk.org/specification/1.7.0/doc/data_model_metadata.html
 */

/** Knots per metre per second (1 kn = 1852 m / 3600 s). */
export const KNOTS_PER_MS = 3600 / 1852

const DEGREES_PER_RAD = 180 / Math.PI

/**
 * A value in the sailor's unit: `{ text, unit }`. `kind` refines angles:
 * `bearing` (000–359), `angle` (signed, P/S side: wind), else plain.
 *
 * @param {number} value the SI value
 * @param {string | undefined} units the meta `units` of its path
 * @param {string} [kind]
 * @returns {{ text: string, unit: string }}
 */
export function display(value, units, kind) {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return { text: String(value), unit: units ?? '' }
  }
  switch (units) {
    case 'm/s':
      return { text: (value * KNOTS_PER_MS).toFixed(1), unit: 'kn' }
    case 'rad': {
      const degrees = value * DEGREES_PER_RAD
      if (kind === 'bearing') {
        const bearing = Math.round(((degrees % 360) + 360) % 360) % 360
        return { text: String(bearing).padStart(3, '0'), unit: '°' }
      }
      if (kind === 'angle') {
        const rounded = Math.round(degrees)
        const side = rounded === 0 || Math.abs(rounded) === 180 ? '' : rounded < 0 ? ' P' : ' S'
        return { text: String(Math.abs(rounded)), unit: `°${side}` }
      }
      return { text: degrees.toFixed(0), unit: '°' }
    }
    case 'K':
      return { text: (value - 273.15).toFixed(1), unit: '°C' }
    case 'm':
      return { text: value.toFixed(1), unit: 'm' }
    case 'ratio':
      return { text: (value * 100).toFixed(0), unit: '%' }
    case 'Pa':
      return { text: (value / 100).toFixed(0), unit: 'hPa' }
    default:
      return { text: String(Math.round(value * 100) / 100), unit: units ?? '' }
  }
}

/** Radians to degrees. */
export function degrees(rad) {
  return rad * DEGREES_PER_RAD
}

function dm(value, width, positive, negative) {
  const abs = Math.abs(value)
  const whole = Math.floor(abs)
  const minutes = ((abs - whole) * 60).toFixed(3).padStart(6, '0')
  return `${String(whole).padStart(width, '0')}°${minutes}′ ${value < 0 ? negative : positive}`
}

/**
 * A position as sailors write it, degrees and decimal minutes.
 *
 * @param {{ latitude: number, longitude: number }} position
 * @returns {string} like `47°30.204′ N 003°01.775′ W`
 */
export function formatPosition(position) {
  return `${dm(position.latitude, 2, 'N', 'S')} ${dm(position.longitude, 3, 'E', 'W')}`
}

/**
 * An age as a short text: `4 s`, `3 min`, `2 h`.
 *
 * @param {number} ms
 */
export function formatAge(ms) {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 120) return `${s} s`
  if (s < 7200) return `${Math.round(s / 60)} min`
  return `${Math.round(s / 3600)} h`
}
