/**
 * The UTC time a sentence carries, for replaying a log at its own pace.
 * Only sentences with a full date and time count: RMC (time, `ddmmyy`) and
 * ZDA (time, day, month, year). GGA and GLL carry a time of day only.
 *
 * @see https://gpsd.gitlab.io/gpsd/NMEA.html#_rmc_recommended_minimum_navigation_information
 * @see https://gpsd.gitlab.io/gpsd/NMEA.html#_zda_time_amp_date_utc_day_month_year_and_local_time_zone
 */

/** Milliseconds since the epoch of an RMC or ZDA line, or undefined for any other line. */
export function sentenceTime(line: string): number | undefined {
  // Cheap test first: this runs on every replayed line.
  const at = line.indexOf('RMC,') >= 0 ? 'RMC' : line.indexOf('ZDA,') >= 0 ? 'ZDA' : undefined
  if (!at) return undefined
  const start = line.indexOf(at) - 3
  if (start < 0 || (line.charAt(start) !== '$' && line.charAt(start) !== '!')) return undefined
  const star = line.lastIndexOf('*')
  const fields = line.slice(start, star < 0 ? undefined : star).split(',')
  if (at === 'RMC') {
    const date = fields[9] ?? ''
    if (!/^\d{6}$/.test(date)) return undefined
    const year = Number(date.slice(4, 6))
    // Two-digit years: 80-99 are 1980-1999, as gpsd reads them.
    return utc(fields[1], year < 80 ? 2000 + year : 1900 + year, date.slice(2, 4), date.slice(0, 2))
  }
  return utc(fields[1], Number(fields[4]), fields[3], fields[2])
}

function utc(
  time: string | undefined,
  year: number,
  month: string | undefined,
  day: string | undefined,
): number | undefined {
  const m = /^(\d{2})(\d{2})(\d{2}(?:\.\d+)?)$/.exec(time ?? '')
  if (!m || !Number.isInteger(year)) return undefined
  const ms =
    Date.UTC(year, Number(month) - 1, Number(day), Number(m[1]), Number(m[2])) + Number(m[3]) * 1000
  return Number.isFinite(ms) ? ms : undefined
}
