/**
 * Server-to-client WebSocket text frames, encoded here once so that the same
 * bytes can be written to every socket that should get them (ws would frame
 * each `send()` again, per message and per client).
 *
 * A frame built here is complete and final: FIN set, opcode 0x1 (text), no
 * mask (a server never masks) and no RSV bits, so it is correct on any
 * connection without extensions. The transport turns permessage-deflate off
 * and checks `ws.extensions` before writing them to a socket.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6455#section-5.2
 */

/** First byte of an unfragmented text frame: FIN + opcode 0x1 (RFC 6455 §5.2). */
const FIN_TEXT = 0x81

/** `text` (UTF-8) as one unmasked, unfragmented WebSocket text frame. */
export function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text)
  const head = length < 126 ? 2 : length < 65_536 ? 4 : 10
  const frame = Buffer.allocUnsafe(head + length)
  frame[0] = FIN_TEXT
  if (length < 126) frame[1] = length
  else if (length < 65_536) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    // 64-bit length, most significant bit 0; payloads stay far below 2^53.
    frame[1] = 127
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2)
    frame.writeUInt32BE(length >>> 0, 6)
  }
  frame.write(text, head, 'utf8')
  return frame
}

/** Several messages as consecutive text frames in one Buffer. */
export function textFrames(texts: readonly string[]): Buffer {
  if (texts.length === 1) return textFrame(texts[0]!)
  return Buffer.concat(texts.map(textFrame))
}
