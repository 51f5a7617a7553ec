/** Creating SVG elements. */
const NS = 'http://www.w3.org/2000/svg'

/**
 * A new SVG element `name` with `attrs`, appended to `parent` when given.
 *
 * @param {string} name
 * @param {Record<string, string | number>} [attrs]
 * @param {Element} [parent]
 * @returns {SVGElement}
 */
export function el(name, attrs = {}, parent) {
  const node = document.createElementNS(NS, name)
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value))
  parent?.append(node)
  return node
}

/** The point at radius `r` and angle `deg` (0 up, clockwise). */
export function polar(r, deg) {
  const a = (deg * Math.PI) / 180
  return [r * Math.sin(a), -r * Math.cos(a)]
}

/** An SVG path of the arc at radius `r` from `from` to `to` degrees, clockwise. */
export function arc(r, from, to) {
  const [x1, y1] = polar(r, from)
  const [x2, y2] = polar(r, to)
  const large = (((to - from) % 360) + 360) % 360 > 180 ? 1 : 0
  return `M${x1.toFixed(2)},${y1.toFixed(2)} A${r},${r} 0 ${large} 1 ${x2.toFixed(2)},${y2.toFixed(2)}`
}
