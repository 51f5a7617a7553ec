import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type SseMessage, SseParser } from '../../src/client/sse-parser.js'

function parse(...chunks: string[]): { messages: SseMessage[]; parser: SseParser } {
  const messages: SseMessage[] = []
  const parser = new SseParser((message) => messages.push(message))
  for (const chunk of chunks) parser.feed(chunk)
  return { messages, parser }
}

describe('SseParser (WHATWG event stream interpretation)', () => {
  it('dispatches on a blank line and joins data lines with LF', () => {
    const { messages } = parse('id: 1\ndata: {"a":\ndata: 1}\n\n')
    expect(messages).toEqual([{ type: 'message', data: '{"a":\n1}', lastEventId: '1' }])
  })

  it('ends lines at CRLF, LF or CR, even when a chunk splits a CRLF', () => {
    const { messages } = parse('data: a\r', '\ndata: b\rdata: c\r\n\r', '\n', 'data: d\n\n')
    expect(messages.map((m) => m.data)).toEqual(['a\nb\nc', 'd'])
  })

  it('ignores comments, unknown fields and an id with NUL; drops one leading space only', () => {
    const { messages } = parse(': hi\nfoo: bar\nid: 7\nid: x\0y\ndata:  two\ndata\n\n')
    expect(messages).toEqual([{ type: 'message', data: ' two\n', lastEventId: '7' }])
  })

  it('names events with event: and forgets the type after dispatch', () => {
    const { messages } = parse('event: ping\ndata: 1\n\ndata: 2\n\n')
    expect(messages.map((m) => m.type)).toEqual(['ping', 'message'])
  })

  it('dispatches nothing for an event without data but moves the last event id (a keep-alive with id)', () => {
    const { messages, parser } = parse('id: 1\ndata: x\n\nevent: keep-alive\nid: 2\n\n')
    expect(messages).toHaveLength(1)
    expect(parser.lastEventId).toBe('2')
  })

  it('keeps the last event id across events and lets an empty id clear it', () => {
    const { messages } = parse('id: 5\ndata: a\n\ndata: b\n\nid\ndata: c\n\n')
    expect(messages.map((m) => m.lastEventId)).toEqual(['5', '5', ''])
  })

  it('takes retry: of digits only and drops an event the stream never finished', () => {
    const { messages, parser } = parse('retry: 1500\nretry: 1.5\ndata: done\n\ndata: half')
    expect(parser.retry).toBe(1500)
    expect(messages.map((m) => m.data)).toEqual(['done'])
  })

  it('parses the same events whatever the chunk boundaries', () => {
    const stream =
      'id: a.1\r\ndata: {"x":1}\r\n\r\n: keep\n\nevent: keep-alive\nid: a.2\n\nid: a.3\rdata: null\r\rdata: [1,\ndata: 2]\n\n'
    const whole = parse(stream)
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 12 }),
        (cuts) => {
          const at = [0, ...cuts.sort((a, b) => a - b), stream.length]
          const pieces = at.slice(1).map((end, i) => stream.slice(at[i], end))
          const split = parse(...pieces)
          expect(split.messages).toEqual(whole.messages)
          expect(split.parser.lastEventId).toBe(whole.parser.lastEventId)
        },
      ),
    )
    expect(whole.messages.map((m) => m.data)).toEqual(['{"x":1}', 'null', '[1,\n2]'])
  })
})
