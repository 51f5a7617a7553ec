import { describe, expect, it } from 'vitest'
import { LineSplitter } from '../../src/ingest/line-splitter.js'

function split(chunks: (string | Buffer)[], maxLength?: number, flush = false) {
  const lines: string[] = []
  let overlong = 0
  const splitter = new LineSplitter(
    { line: (l) => lines.push(l), overlong: () => overlong++ },
    maxLength,
  )
  for (const chunk of chunks) splitter.push(chunk)
  if (flush) splitter.flush()
  return { lines, overlong }
}

describe('LineSplitter', () => {
  it('splits on CR LF, LF and CR alike and skips blank lines', () => {
    expect(split(['a\r\nb\nc\rd\r\n\r\n']).lines).toEqual(['a', 'b', 'c', 'd'])
  })

  it('joins a line cut across chunks, even between CR and LF', () => {
    expect(split(['$GPR', 'MC,1*00\r', '\n$GP', 'HDT\r\n']).lines).toEqual([
      '$GPRMC,1*00',
      '$GPHDT',
    ])
  })

  it('keeps a last line without line ending until flushed', () => {
    expect(split(['a\nb']).lines).toEqual(['a'])
    expect(split(['a\nb'], undefined, true).lines).toEqual(['a', 'b'])
  })

  it('maps binary bytes one to one instead of throwing', () => {
    expect(split([Buffer.from([0xff, 0x00, 0x41, 0x0a])]).lines).toEqual(['\xff\x00A'])
  })

  it('drops an overlong line whole, reports it once, and goes on with the next line', () => {
    const { lines, overlong } = split(
      ['x'.repeat(5), 'x'.repeat(5), 'xx\nok\n', 'y'.repeat(11), '\n'],
      10,
    )
    expect(lines).toEqual(['ok'])
    expect(overlong).toBe(2)
  })

  it('keeps a line of exactly the limit', () => {
    expect(split(['x'.repeat(10), '\n'], 10).lines).toEqual(['x'.repeat(10)])
  })

  it('forgets a partial line on reset', () => {
    const lines: string[] = []
    const splitter = new LineSplitter({ line: (l) => lines.push(l), overlong: () => {} })
    splitter.push('$GPRMC,12')
    splitter.reset()
    splitter.push('$GPHDT,1,T*00\n')
    expect(lines).toEqual(['$GPHDT,1,T*00'])
  })
})
