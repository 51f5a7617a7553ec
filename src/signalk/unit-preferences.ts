/**
 * Signal K's default unit preferences: what signalk-server answers at
 * `GET /signalk/v1/unitpreferences/active` with its default preset
 * (`nautical-metric`): each category's SI unit, the unit to show, and the
 * conversion formulas from its unit definitions. Apps (Freeboard-SK) show
 * values in these units. keelson has no preset editor, so this is the active
 * preset.
 *
 * Data from signalk-server (Apache-2.0): unitpreferences/presets/nautical-metric.json
 * with the conversions of unitpreferences/standard-units-definitions.json and
 * custom-units-definitions.json, merged as its `/active` route merges them.
 *
 * @see https://github.com/SignalK/signalk-server/blob/master/docs/guides/unitpreferences.md
 */
import type { JsonObject } from '../core/json.js'

/** The active unit preferences (`/signalk/v1/unitpreferences/active`). */
export const ACTIVE_UNIT_PREFERENCES: Readonly<JsonObject> = deepFreeze({
  version: '1.0.0',
  date: '2025-01-15',
  name: 'Nautical (Metric)',
  description:
    'Nautical speed/distance (knots, nautical miles) with metric units (meters, Celsius)',
  categories: {
    distance: {
      baseUnit: 'm',
      targetUnit: 'naut-mile',
      displayFormat: '0.0',
      formula: 'value * 0.0005399568034557236',
      inverseFormula: 'value / 0.0005399568034557236',
      symbol: 'nmi',
    },
    speed: {
      baseUnit: 'm/s',
      targetUnit: 'kn',
      displayFormat: '0.0',
      formula: 'value * 1.94384',
      inverseFormula: 'value * 0.514444',
      symbol: 'kn',
    },
    temperature: {
      baseUnit: 'K',
      targetUnit: 'C',
      displayFormat: '0.0',
      formula: 'value - 273.15',
      inverseFormula: 'value + 273.15',
      symbol: '°C',
    },
    pressure: {
      baseUnit: 'Pa',
      targetUnit: 'mbar',
      displayFormat: '0',
      formula: 'value * 0.01',
      inverseFormula: 'value * 100',
      symbol: 'mbar',
    },
    depth: { baseUnit: 'm', targetUnit: 'm', displayFormat: '0.0' },
    volume: {
      baseUnit: 'm3',
      targetUnit: 'liter',
      displayFormat: '0.0',
      formula: 'value * 1000',
      inverseFormula: 'value / 1000',
      symbol: 'liter',
    },
    angle: {
      baseUnit: 'rad',
      targetUnit: 'degree',
      displayFormat: '0.0',
      formula: 'value * 57.29577951308231',
      inverseFormula: 'value / 57.29577951308231',
      symbol: '°',
    },
    length: { baseUnit: 'm', targetUnit: 'm', displayFormat: '0.0' },
    angularVelocity: {
      baseUnit: 'rad/s',
      targetUnit: 'deg/s',
      displayFormat: '0.0',
      formula: 'value * 57.2958',
      inverseFormula: 'value * 0.0174533',
      symbol: '°/s',
    },
    voltage: {
      baseUnit: 'V',
      targetUnit: 'V',
      displayFormat: '0.00',
      formula: 'value * 1',
      inverseFormula: 'value * 1',
      symbol: 'V',
    },
    current: {
      baseUnit: 'A',
      targetUnit: 'A',
      displayFormat: '0.00',
      formula: 'value * 1',
      inverseFormula: 'value * 1',
      symbol: 'A',
    },
    power: { baseUnit: 'W', targetUnit: 'W', displayFormat: '0.00' },
    percentage: {
      baseUnit: 'ratio',
      targetUnit: 'percent',
      displayFormat: '0',
      formula: 'value * 100',
      inverseFormula: 'value * 0.01',
      symbol: '%',
    },
    frequency: {
      baseUnit: 'Hz',
      targetUnit: 'rpm',
      displayFormat: '0.0',
      formula: 'value * 60',
      inverseFormula: 'value * 0.0166667',
      symbol: 'rpm',
    },
    time: {
      baseUnit: 's',
      targetUnit: 'hour',
      displayFormat: '0.0',
      formula: 'value * 0.0002777777777777778',
      inverseFormula: 'value / 0.0002777777777777778',
      symbol: 'hour',
    },
    dateTime: { baseUnit: 'RFC 3339 (UTC)', targetUnit: 'short-date', displayFormat: 'short-date' },
    charge: {
      baseUnit: 'C',
      targetUnit: 'Ah',
      displayFormat: '0.0',
      formula: 'value * 0.0002777777777777778',
      inverseFormula: 'value / 0.0002777777777777778',
      symbol: 'Ah',
    },
    volumeRate: {
      baseUnit: 'm3/s',
      targetUnit: 'L/h',
      displayFormat: '0.0',
      formula: 'value * 3600000',
      inverseFormula: 'value * 0.000000277778',
      symbol: 'L/h',
    },
    energy: {
      baseUnit: 'J',
      targetUnit: 'J',
      displayFormat: '0.0',
      formula: 'value * 1',
      inverseFormula: 'value / 1',
      symbol: 'joule',
    },
    mass: { baseUnit: 'kg', targetUnit: 'kg', displayFormat: '0.0' },
    area: {
      baseUnit: 'm2',
      targetUnit: 'm2',
      displayFormat: '0.0',
      formula: 'value',
      inverseFormula: 'value',
      symbol: 'm2',
    },
    angleDegrees: { baseUnit: 'deg', targetUnit: 'deg', displayFormat: '0.0' },
    boolean: {
      baseUnit: 'bool',
      targetUnit: 'bool',
      displayFormat: 'boolean',
      formula: 'value',
      inverseFormula: 'value',
      symbol: '',
    },
    dataSize: {
      baseUnit: 'B',
      targetUnit: 'MB',
      displayFormat: '0.0',
      formula: 'value / 1000000',
      inverseFormula: 'value * 1000000',
      symbol: 'MB',
    },
  },
})

function deepFreeze<T extends object>(value: T): T {
  for (const member of Object.values(value)) {
    if (typeof member === 'object' && member !== null) deepFreeze(member)
  }
  return Object.freeze(value)
}
