/**
 * Reassembly of multi-sentence AIS messages before the parser sees them.
 *
 * An AIS message longer than one sentence is sent as fragments
 * (`!AIVDM,<count>,<number>,<sequential id>,<channel>,<payload>,<fill>*hh`).
 * The parser of `@signalk/nmea0183-signalk` joins them with one session that
 * trusts their order, so fragments reordered over UDP join the first part of
 * one vessel's message to the second part of another's. Here fragments are
 * held per open set (sentence header, sequential message id and channel) and
 * a set goes on only when it is complete and in order (fragments 1..n, one
 * after the other, the same count), so the parser always sees whole
 * consecutive sets. Anything else is dropped and reported: a fragment that
 * does not follow its set (the set goes with it), a set pushed out by a newer
 * one, a set older than `maxAgeMs`. Memory stays bounded by `maxOpen` sets of
 * at most {@link MAX_FRAGMENTS} lines each.
 *
 * @see https://gpsd.gitlab.io/gpsd/AIVDM.html#_aivdmaivdo_sentence_layer
 */

/** Most fragments one AIS message may have (the count is one digit, IEC 61162-1). */
export const MAX_FRAGMENTS = 9

/** Options of {@link AisFragments}. */
export interface AisFragmentsOptions {
  /** Called with each line dropped (held or just received). */
  onDrop: (line: string) => void
  /** Most sets open at once; a new set past it drops the oldest. Default 16. */
  maxOpen?: number
  /** Longest time a set may stay open, from its first fragment, ms. Default 5000. */
  maxAgeMs?: number
}

/** A set being collected. */
interface OpenSet {
  readonly count: number
  readonly since: number
  readonly lines: string[]
}

/** What {@link AisFragments.accept} answers while a set is open or after a drop. */
const HELD: readonly string[] = Object.freeze([])

/** The reassembler of one stream (one provider). */
export class AisFragments {
  private readonly onDrop: (line: string) => void
  private readonly maxOpen: number
  private readonly maxAgeMs: number
  /** Open sets by key, oldest first (a set is inserted once, when it opens). */
  private readonly open = new Map<string, OpenSet>()

  constructor(options: AisFragmentsOptions) {
    this.onDrop = options.onDrop
    this.maxOpen = options.maxOpen ?? 16
    this.maxAgeMs = options.maxAgeMs ?? 5000
  }

  /** Number of sets open now. */
  get size(): number {
    return this.open.size
  }

  /**
   * Takes one line (a tag block before the sentence is allowed). Answers
   * `null` when it is not a fragment of a multi-sentence AIS message with a
   * good checksum: parse it as it is (so a bad one is counted as such).
   * Otherwise answers the lines to parse now, in order: the whole set when
   * this line completes it, none while the set is open or when the line was
   * dropped.
   */
  accept(line: string): readonly string[] | null {
    const body = line.charCodeAt(0) === BACKSLASH ? line.slice(line.indexOf('\\', 1) + 1) : line
    // A fragment the parser would refuse goes to it as it is, to be counted as the bad line it is.
    if (!isAisHeader(body) || !checksumMatches(body)) return null
    const fields = body.split(',', 5)
    // The parser's session is touched exactly when the count is above 1, so that is what is held.
    const n = Number(fields[1])
    if (!(n > 1)) return null
    this.expire()
    const number = Number(fields[2])
    if (
      !Number.isInteger(n) ||
      n > MAX_FRAGMENTS ||
      !Number.isInteger(number) ||
      number < 1 ||
      number > n ||
      fields.length < 5
    ) {
      // It cannot be joined, and passed on it would feed the parser's session.
      this.onDrop(line)
      return HELD
    }
    const key = `${fields[0]},${fields[3]},${fields[4]}`
    const set = this.open.get(key)
    if (number === 1) {
      if (set) this.drop(key, set)
      if (this.open.size >= this.maxOpen) this.dropOldest()
      this.open.set(key, { count: n, since: Date.now(), lines: [line] })
      return HELD
    }
    if (!set || set.count !== n || set.lines.length !== number - 1) {
      if (set) this.drop(key, set)
      this.onDrop(line)
      return HELD
    }
    set.lines.push(line)
    if (number < n) return HELD
    this.open.delete(key)
    return set.lines
  }

  /** Drops every set older than `maxAgeMs`. Cheap when none is open. */
  expire(): void {
    if (this.open.size === 0) return
    const oldest = Date.now() - this.maxAgeMs
    for (const [key, set] of this.open) {
      if (set.since < oldest) this.drop(key, set)
    }
  }

  private dropOldest(): void {
    for (const [key, set] of this.open) {
      this.drop(key, set)
      return
    }
  }

  private drop(key: string, set: OpenSet): void {
    this.open.delete(key)
    for (const line of set.lines) this.onDrop(line)
  }
}

const BACKSLASH = 0x5c

/** True for `!AIVDM`, `!AIVDO`, `$`-prefixed and any talker (`!BSVDM`), followed by a comma. */
function isAisHeader(body: string): boolean {
  const start = body.charCodeAt(0)
  if ((start !== 0x21 && start !== 0x24) || body.charCodeAt(6) !== 0x2c) return false
  if (body.charCodeAt(3) !== 0x56 || body.charCodeAt(4) !== 0x44) return false // 'V', 'D'
  const last = body.charCodeAt(5)
  return last === 0x4d || last === 0x4f // 'M', 'O'
}

/** True when the sentence ends in `*hh` and hh is the XOR of the characters between its start and `*`. */
function checksumMatches(body: string): boolean {
  const end = body.trimEnd()
  const star = end.length - 3
  if (star < 1 || end.charCodeAt(star) !== 0x2a) return false
  const hex = end.slice(star + 1)
  if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return false
  const expected = Number.parseInt(hex, 16)
  let sum = 0
  for (let i = 1; i < star; i++) sum ^= end.charCodeAt(i)
  return sum === expected
}
