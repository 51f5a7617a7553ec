/**
 * Splits a byte stream into NMEA 0183 lines, the one framing every provider
 * shares (TCP, UDP, replay). NMEA 0183 ends sentences with CR LF; a lone LF
 * or CR is accepted too. A line longer than `maxLength` is dropped whole and
 * reported, so a stream of garbage without newlines cannot grow memory.
 *
 * @see https://gpsd.gitlab.io/gpsd/NMEA.html#_nmea_encoding_conventions
 */

/**
 * Longest line kept, in characters, without its line ending. NMEA 0183 caps
 * a sentence at 82 characters; tag blocks (NMEA 0183 v4) and loose gateways
 * go past that, so the default leaves room. Default 512.
 */
export const DEFAULT_MAX_LINE_LENGTH = 512

const LF = 10
const CR = 13

/** Receives the splitter's output. */
export interface LineHandler {
  /** A complete line without its line ending (never empty). */
  line(line: string): void
  /** A line longer than the limit was dropped. */
  overlong(): void
}

/** Incremental line splitter with a length limit. */
export class LineSplitter {
  private pending = ''
  /** True while dropping the rest of an overlong line, up to its newline. */
  private skipping = false

  constructor(
    private readonly handler: LineHandler,
    private readonly maxLength = DEFAULT_MAX_LINE_LENGTH,
  ) {}

  /** Feeds a chunk; complete lines go to the handler at once. */
  push(chunk: Buffer | string): void {
    // latin1 maps each byte to one char: binary garbage stays one char per byte and never throws.
    const text = typeof chunk === 'string' ? chunk : chunk.toString('latin1')
    let start = 0
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c !== LF && c !== CR) continue
      this.end(text, start, i)
      start = i + 1
    }
    if (start < text.length) this.hold(text, start)
  }

  /** Ends the current line as if a newline came (a UDP datagram's last line). */
  flush(): void {
    this.end('', 0, 0)
  }

  /** Forgets a partial line (a TCP connection dropped mid-line). */
  reset(): void {
    this.pending = ''
    this.skipping = false
  }

  private end(text: string, start: number, stop: number): void {
    if (this.skipping) {
      this.skipping = false
      return
    }
    const line =
      this.pending === '' ? text.slice(start, stop) : this.pending + text.slice(start, stop)
    this.pending = ''
    if (line.length > this.maxLength) this.handler.overlong()
    else if (line.length > 0) this.handler.line(line)
  }

  private hold(text: string, start: number): void {
    if (this.skipping) return
    this.pending += text.slice(start)
    if (this.pending.length > this.maxLength) {
      this.pending = ''
      this.skipping = true
      this.handler.overlong()
    }
  }
}
