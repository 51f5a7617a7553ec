/**
 * The compass and the wind rose, drawn once in SVG; each render only turns
 * a group and sets a text.
 */
import { arc, el, polar } from './svg.js'

const CARDINALS = { 0: 'N', 90: 'E', 180: 'S', 270: 'W' }

/**
 * A compass card that turns so the heading is under the lubber line, with
 * the course over ground as a marker on the card.
 *
 * @param {SVGSVGElement} svg a `-110 -110 220 220` view box
 */
export function createCompass(svg) {
  const card = el('g', {}, svg)
  el('circle', { r: 100, class: 'ring' }, card)
  for (let d = 0; d < 360; d += 5) {
    const inner = d % 30 === 0 ? 86 : d % 10 === 0 ? 91 : 95
    const [x1, y1] = polar(100, d)
    const [x2, y2] = polar(inner, d)
    el('line', { x1, y1, x2, y2, class: d % 30 === 0 ? 'tick major' : 'tick' }, card)
  }
  for (let d = 0; d < 360; d += 30) {
    const [x, y] = polar(74, d)
    const label = el(
      'text',
      {
        x,
        y,
        'text-anchor': 'middle',
        'dominant-baseline': 'central',
        'font-size': CARDINALS[d] ? 16 : 11,
        'font-weight': CARDINALS[d] ? 700 : 400,
        transform: `rotate(${d} ${x} ${y})`,
      },
      card,
    )
    label.textContent = CARDINALS[d] ?? String(d / 10)
  }
  const cog = el(
    'path',
    { d: 'M0,-84 L-8,-100 L8,-100 Z', class: 'cog', visibility: 'hidden' },
    card,
  )
  el('path', { d: 'M0,-97 L-7,-109 L7,-109 Z', class: 'lubber' }, svg)
  const heading = el('text', { y: 10, 'text-anchor': 'middle', 'font-size': 34 }, svg)
  const caption = el(
    'text',
    { y: 30, 'text-anchor': 'middle', 'font-size': 11, class: 'muted' },
    svg,
  )
  heading.textContent = '–––'
  caption.textContent = 'HDG °T'
  return {
    /**
     * @param {number | undefined} headingDeg true heading, degrees
     * @param {number | undefined} cogDeg course over ground, degrees
     */
    update(headingDeg, cogDeg) {
      const up = headingDeg ?? cogDeg ?? 0
      card.setAttribute('transform', `rotate(${(-up).toFixed(1)})`)
      heading.textContent =
        headingDeg === undefined
          ? '–––'
          : String(Math.round((headingDeg + 360) % 360) % 360).padStart(3, '0')
      caption.textContent = headingDeg === undefined && cogDeg !== undefined ? 'COG up' : 'HDG °T'
      if (cogDeg === undefined) cog.setAttribute('visibility', 'hidden')
      else {
        cog.setAttribute('visibility', 'visible')
        cog.setAttribute('transform', `rotate(${cogDeg.toFixed(1)})`)
      }
    },
  }
}

/**
 * A wind rose relative to the bow: the apparent wind angle as an arrow on
 * the rim, close-hauled sectors red (port) and green (starboard), the
 * apparent wind speed in the middle.
 *
 * @param {SVGSVGElement} svg a `-110 -110 220 220` view box
 */
export function createWindRose(svg) {
  el('circle', { r: 100, class: 'ring' }, svg)
  el('path', { d: arc(94, 20, 60), class: 'starboard' }, svg)
  el('path', { d: arc(94, -60, -20), class: 'port' }, svg)
  for (let d = 0; d < 360; d += 10) {
    const [x1, y1] = polar(100, d)
    const [x2, y2] = polar(d % 30 === 0 ? 88 : 94, d)
    el('line', { x1, y1, x2, y2, class: d % 30 === 0 ? 'tick major' : 'tick' }, svg)
  }
  el(
    'path',
    { d: 'M0,-48 C16,-24 17,22 11,44 L-11,44 C-17,22 -16,-24 0,-48 Z', class: 'boat' },
    svg,
  )
  const arrow = el(
    'path',
    { d: 'M0,-60 L-11,-99 L11,-99 Z', class: 'arrow', visibility: 'hidden' },
    svg,
  )
  const speed = el('text', { y: 2, 'text-anchor': 'middle', 'font-size': 26 }, svg)
  const angle = el('text', { y: 22, 'text-anchor': 'middle', 'font-size': 11, class: 'muted' }, svg)
  speed.textContent = '–'
  return {
    /**
     * @param {number | undefined} angleDeg apparent wind angle, degrees, negative to port
     * @param {string | undefined} speedText the apparent wind speed as shown
     * @param {string} [speedUnit]
     */
    update(angleDeg, speedText, speedUnit = 'kn') {
      if (angleDeg === undefined) arrow.setAttribute('visibility', 'hidden')
      else {
        arrow.setAttribute('visibility', 'visible')
        arrow.setAttribute('transform', `rotate(${angleDeg.toFixed(1)})`)
      }
      speed.textContent = speedText ?? '–'
      const side = angleDeg === undefined ? '' : angleDeg < 0 ? ' port' : ' stbd'
      angle.textContent =
        angleDeg === undefined
          ? `AWS ${speedUnit}`
          : `${Math.abs(Math.round(angleDeg))}°${side} · ${speedUnit}`
    },
  }
}
