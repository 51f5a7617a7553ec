/**
 * The live display at `/` (SPEC §10): one SSE stream of the whole tree
 * (`/signalk/v1/api/`, at most two events a second), folded by the client
 * library; values converted with each path's meta `units`; staleness,
 * connection and event id; compass, wind rose, track, sparklines, AIS targets.
 */
import { subscribe } from '/client.js'
import { createCompass, createWindRose } from './gauges.js'
import { distanceAndBearing, isPosition, METRES_PER_NM } from './geo.js'
import { Series } from './history.js'
import { drawSparkline, drawTrack } from './plots.js'
import { setUpTheme } from './theme.js'
import { degrees, display, formatAge, formatPosition } from './units.js'

const API = '/signalk/v1/api'
/** One event per this many ms at most: a value written shows within it. */
const MIN_PERIOD_MS = 500
const HOUR_MS = 3_600_000
const SPARK_WINDOW_MS = 15 * 60_000

/** The instruments: label, Signal K path of the self vessel, how to show it, when it is stale (ms). */
const TILES = [
  { label: 'SOG', path: 'navigation.speedOverGround', stale: 5000 },
  { label: 'COG', path: 'navigation.courseOverGroundTrue', kind: 'bearing', stale: 5000 },
  { label: 'Heading', path: 'navigation.headingTrue', kind: 'bearing', stale: 5000 },
  { label: 'Depth', path: 'environment.depth.belowTransducer', stale: 5000 },
  { label: 'AWA', path: 'environment.wind.angleApparent', kind: 'angle', stale: 5000 },
  { label: 'AWS', path: 'environment.wind.speedApparent', stale: 5000 },
  { label: 'Water', path: 'environment.water.temperature', stale: 30_000 },
  { label: 'Position', path: 'navigation.position', kind: 'position', stale: 5000 },
]

/** Signal K's units of these paths, used only when their meta cannot be read. */
const FALLBACK_UNITS = {
  'navigation.speedOverGround': 'm/s',
  'navigation.courseOverGroundTrue': 'rad',
  'navigation.headingTrue': 'rad',
  'environment.depth.belowTransducer': 'm',
  'environment.wind.angleApparent': 'rad',
  'environment.wind.speedApparent': 'm/s',
  'environment.water.temperature': 'K',
}

const at = (node, dotted) => dotted.split('.').reduce((n, key) => n?.[key], node)
const $ = (id) => document.getElementById(id)

/** @type {Record<string, string | undefined>} */
const units = {}

async function loadUnits() {
  await Promise.all(
    TILES.filter((tile) => tile.kind !== 'position').map(async ({ path }) => {
      try {
        const res = await fetch(`${API}/vessels/self/${path.split('.').join('/')}/meta`)
        const meta = res.ok ? await res.json() : {}
        units[path] = meta.units ?? FALLBACK_UNITS[path]
      } catch {
        units[path] = FALLBACK_UNITS[path]
      }
    }),
  )
}

function buildTiles() {
  const host = $('tiles')
  for (const tile of TILES) {
    const node = document.createElement('div')
    node.className = `tile missing${tile.kind === 'position' ? ' position' : ''}`
    node.dataset.path = tile.path
    node.innerHTML =
      '<div class="label"></div><div class="reading"><span class="value">–</span><span class="unit"></span></div><div class="age"></div>'
    node.querySelector('.label').textContent = tile.label
    host.append(node)
    tile.node = node
    tile.value = node.querySelector('.value')
    tile.unit = node.querySelector('.unit')
    tile.age = node.querySelector('.age')
  }
}

/** What the display holds between renders. */
const view = {
  self: undefined,
  selfKey: undefined,
  vessels: {},
  /** path → { node, changedAt }: when this display saw each value change. */
  seen: new Map(),
  sog: new Series(SPARK_WINDOW_MS, 2000),
  depth: new Series(SPARK_WINDOW_MS, 2000),
  track: new Series(HOUR_MS, 5000),
}

/**
 * When a value first seen was last updated: its own timestamp when it is
 * plausible (in the last hour, not ahead of this clock), else now.
 */
function firstSeen(node, now) {
  const stamp = Date.parse(node?.timestamp ?? '')
  return Number.isFinite(stamp) && stamp <= now && now - stamp < HOUR_MS ? stamp : now
}

function onState(state) {
  const now = Date.now()
  view.vessels = state?.vessels ?? {}
  view.selfKey = typeof state?.self === 'string' ? state.self.replace(/^vessels\./, '') : undefined
  view.self = view.selfKey === undefined ? undefined : view.vessels[view.selfKey]
  for (const { path } of TILES) {
    const node = at(view.self, path)
    const entry = view.seen.get(path)
    // Unchanged subtrees keep their identity across folds (copy-on-write), so identity means unchanged.
    if (node !== entry?.node) {
      view.seen.set(path, { node, changedAt: entry === undefined ? firstSeen(node, now) : now })
    }
  }
  const sog = at(view.self, 'navigation.speedOverGround.value')
  const depth = at(view.self, 'environment.depth.belowTransducer.value')
  const position = at(view.self, 'navigation.position.value')
  if (Number.isFinite(sog)) view.sog.push(now, sog)
  if (Number.isFinite(depth)) view.depth.push(now, depth)
  if (isPosition(position)) view.track.push(now, position)
  scheduleRender()
}

function renderTiles(now) {
  for (const tile of TILES) {
    const entry = view.seen.get(tile.path)
    const value = entry?.node?.value
    tile.node.classList.toggle('missing', value === undefined)
    if (value === undefined) {
      tile.value.textContent = '–'
      tile.unit.textContent = ''
      tile.age.textContent = ''
      tile.node.classList.remove('stale')
      continue
    }
    if (tile.kind === 'position') {
      tile.value.textContent = isPosition(value) ? formatPosition(value) : '–'
      tile.unit.textContent = ''
    } else {
      const shown = display(value, units[tile.path], tile.kind)
      tile.value.textContent = shown.text
      tile.unit.textContent = shown.unit
    }
    const age = now - entry.changedAt
    const stale = age > tile.stale
    tile.node.classList.toggle('stale', stale)
    tile.age.textContent = stale ? `${formatAge(age)} old` : ''
  }
}

function renderGauges() {
  const angle = (path) => {
    const value = at(view.self, `${path}.value`)
    return Number.isFinite(value) && units[path] === 'rad' ? degrees(value) : undefined
  }
  compass.update(angle('navigation.headingTrue'), angle('navigation.courseOverGroundTrue'))
  const aws = at(view.self, 'environment.wind.speedApparent.value')
  const shown = Number.isFinite(aws)
    ? display(aws, units['environment.wind.speedApparent'])
    : undefined
  wind.update(angle('environment.wind.angleApparent'), shown?.text, shown?.unit)
}

function renderPlots(now) {
  view.track.prune(now)
  view.sog.prune(now)
  view.depth.prune(now)
  const width = drawTrack($('track'), view.track.samples)
  $('track-scale').textContent = width === undefined ? '' : `· ${width.toFixed(2)} NM across`
  for (const [id, series, path] of [
    ['spark-sog', view.sog, 'navigation.speedOverGround'],
    ['spark-depth', view.depth, 'environment.depth.belowTransducer'],
  ]) {
    const range = drawSparkline($(id), series.samples, SPARK_WINDOW_MS, now)
    const show = (v) => display(v, units[path])
    $(`${id}-range`).textContent =
      range === undefined
        ? ''
        : `${show(range[0]).text}–${show(range[1]).text} ${show(range[1]).unit}`
  }
}

function renderTargets() {
  const own = at(view.self, 'navigation.position.value')
  const rows = []
  for (const [key, vessel] of Object.entries(view.vessels)) {
    if (key === view.selfKey || typeof vessel !== 'object' || vessel === null) continue
    const position = at(vessel, 'navigation.position.value')
    const sog = at(vessel, 'navigation.speedOverGround.value')
    const mmsi = vessel.mmsi ?? key.replace(/^urn:mrn:imo:mmsi:/, '')
    const route =
      isPosition(own) && isPosition(position) ? distanceAndBearing(own, position) : undefined
    rows.push({ key, name: vessel.name ?? `MMSI ${mmsi}`, mmsi, route, sog })
  }
  rows.sort((a, b) => (a.route?.distance ?? Infinity) - (b.route?.distance ?? Infinity))
  const body = $('ais').tBodies[0]
  body.replaceChildren(
    ...rows.map((row) => {
      const tr = document.createElement('tr')
      tr.dataset.vessel = row.key
      const cells = [
        row.name,
        row.mmsi,
        row.route ? `${(row.route.distance / METRES_PER_NM).toFixed(2)} NM` : '–',
        row.route ? `${String(Math.round(row.route.bearing) % 360).padStart(3, '0')}°` : '–',
        Number.isFinite(row.sog) ? `${display(row.sog, 'm/s').text} kn` : '–',
      ]
      cells.forEach((text, i) => {
        const td = document.createElement('td')
        td.textContent = text
        if (i === 1) td.className = 'mmsi'
        tr.append(td)
      })
      return tr
    }),
  )
  $('ais-count').textContent = `(${rows.length})`
}

let pending = false
function scheduleRender() {
  if (pending) return
  pending = true
  requestAnimationFrame(render)
}

function render() {
  pending = false
  const now = Date.now()
  $('name').textContent = view.self?.name ?? 'keelson'
  renderTiles(now)
  renderGauges()
  renderPlots(now)
  renderTargets()
}

const STATUS_TEXT = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'reconnecting…',
  offline: 'offline',
  closed: 'closed',
}

/** After this many failed attempts in a row the server counts as offline (retries go on). */
const OFFLINE_AFTER_ATTEMPTS = 4

function onStatus(status, info) {
  const offline =
    status === 'reconnecting' &&
    (info.attempt >= OFFLINE_AFTER_ATTEMPTS || navigator.onLine === false)
  const shown = offline ? 'offline' : status
  document.documentElement.dataset.connection = shown
  const retry =
    info.retryInMs === undefined ? '' : ` · retry in ${Math.ceil(info.retryInMs / 1000)} s`
  $('connection-text').textContent = STATUS_TEXT[shown] + (status === 'reconnecting' ? retry : '')
  showEventId(info.lastEventId)
}

function showEventId(id) {
  $('event-id').textContent = id ?? ''
}

buildTiles()
setUpTheme($('theme'))
const compass = createCompass($('compass'))
const wind = createWindRose($('wind'))
render()
setInterval(scheduleRender, 1000)
await loadUnits()
subscribe(`${API}/`, {
  minPeriod: MIN_PERIOD_MS,
  onState: (state, info) => {
    showEventId(info.lastEventId)
    onState(state)
  },
  onStatus,
})
