/**
 * Great-circle distance and initial bearing between two positions, on a
 * sphere of the mean Earth radius (haversine): within 0.5 % of the
 * ellipsoid, plenty for a list of AIS targets.
 */

/** Mean Earth radius, m (IUGG). */
const EARTH_RADIUS_M = 6_371_008.8

/** Metres in a nautical mile. */
export const METRES_PER_NM = 1852

const rad = (deg) => (deg * Math.PI) / 180

/**
 * Distance in metres and initial bearing in degrees (0–360, true) from `a` to `b`.
 *
 * @param {{ latitude: number, longitude: number }} a
 * @param {{ latitude: number, longitude: number }} b
 * @returns {{ distance: number, bearing: number }}
 */
export function distanceAndBearing(a, b) {
  const φ1 = rad(a.latitude)
  const φ2 = rad(b.latitude)
  const Δφ = φ2 - φ1
  const Δλ = rad(b.longitude - a.longitude)
  const h = Math.sin(Δφ / 2) ** 2 + Math.cos(φ1) * Math.cos(φ2) * Math.sin(Δλ / 2) ** 2
  const distance = 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)))
  const y = Math.sin(Δλ) * Math.cos(φ2)
  const x = Math.cos(φ1) * Math.sin(φ2) - Math.sin(φ1) * Math.cos(φ2) * Math.cos(Δλ)
  const bearing = ((Math.atan2(y, x) * 180) / Math.PI + 360) % 360
  return { distance, bearing }
}

/** True for a Signal K position with finite latitude and longitude. */
export function isPosition(value) {
  return (
    typeof value === 'object' &&
    value !== null &&
    Number.isFinite(value.latitude) &&
    Number.isFinite(value.longitude)
  )
}
