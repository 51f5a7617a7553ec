/**
 * The track plot and the sparklines, redrawn from their series on each render.
 */
import { el } from './svg.js'

/**
 * Draws the positions of `samples` (`v`: a Signal K position), north up,
 * scaled to fit; the last one is marked. Returns the width of the plot in NM.
 *
 * @param {SVGSVGElement} svg a `0 0 300 200` view box
 * @param {{ t: number, v: { latitude: number, longitude: number } }[]} samples
 * @returns {number | undefined}
 */
export function drawTrack(svg, samples) {
  svg.replaceChildren()
  if (samples.length === 0) {
    const empty = el(
      'text',
      { x: 150, y: 100, 'text-anchor': 'middle', class: 'muted', 'font-size': 12 },
      svg,
    )
    empty.textContent = 'no position yet'
    return undefined
  }
  const lat0 =
    (samples.reduce((sum, s) => sum + s.v.latitude, 0) / samples.length) * (Math.PI / 180)
  // Equirectangular, in nautical miles (1' of latitude): exact enough over an hour's run.
  const points = samples.map((s) => [s.v.longitude * 60 * Math.cos(lat0), -s.v.latitude * 60])
  const xs = points.map((p) => p[0])
  const ys = points.map((p) => p[1])
  const [minX, maxX, minY, maxY] = [
    Math.min(...xs),
    Math.max(...xs),
    Math.min(...ys),
    Math.max(...ys),
  ]
  const pad = 14
  const span = Math.max((maxX - minX) / (300 - 2 * pad), (maxY - minY) / (200 - 2 * pad), 0.1 / 200)
  const cx = (minX + maxX) / 2
  const cy = (minY + maxY) / 2
  const at = ([x, y]) => [150 + (x - cx) / span, 100 + (y - cy) / span]
  for (const x of [75, 150, 225]) el('line', { x1: x, y1: 0, x2: x, y2: 200, class: 'grid' }, svg)
  for (const y of [50, 100, 150]) el('line', { x1: 0, y1: y, x2: 300, y2: y, class: 'grid' }, svg)
  el(
    'polyline',
    {
      points: points
        .map((p) =>
          at(p)
            .map((n) => n.toFixed(1))
            .join(','),
        )
        .join(' '),
      class: 'track-line',
    },
    svg,
  )
  const [hx, hy] = at(points.at(-1))
  el('circle', { cx: hx, cy: hy, r: 4.5, class: 'here' }, svg)
  const north = el(
    'text',
    { x: 290, y: 16, 'text-anchor': 'end', 'font-size': 12, 'font-weight': 700 },
    svg,
  )
  north.textContent = '↑N'
  return span * 300
}

/**
 * Draws a sparkline of `samples` over the last `windowMs` before `now`;
 * returns the [min, max] of the values shown.
 *
 * @param {SVGSVGElement} svg a `0 0 300 60` view box
 * @param {{ t: number, v: number }[]} samples
 * @returns {[number, number] | undefined}
 */
export function drawSparkline(svg, samples, windowMs, now) {
  svg.replaceChildren()
  if (samples.length === 0) return undefined
  const values = samples.map((s) => s.v)
  const min = Math.min(...values)
  const max = Math.max(...values)
  const y = (v) => (max === min ? 30 : 56 - ((v - min) / (max - min)) * 52)
  const x = (t) => Math.max(0, 300 * (1 - (now - t) / windowMs))
  const line = samples.map((s) => `${x(s.t).toFixed(1)},${y(s.v).toFixed(1)}`)
  if (samples.length === 1) line.push(`300,${y(samples[0].v).toFixed(1)}`)
  el('line', { x1: 0, y1: 30, x2: 300, y2: 30, class: 'grid' }, svg)
  el('polyline', { points: line.join(' '), class: 'spark-line' }, svg)
  return [min, max]
}
