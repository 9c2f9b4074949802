/** One message of the AWS event-stream encoding: its string headers and its payload. */
export interface EventMessage {
  headers: Record<string, string>;
  payload: Buffer;
}

const VALUE_SIZE: Record<number, number> = { 0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16 };

function readHeaders(bytes: Buffer): Record<string, string> {
  const headers: Record<string, string> = {};
  let at = 0;
  while (at < bytes.length) {
    const nameLength = bytes.readUInt8(at);
    const name = bytes.subarray(at + 1, at + 1 + nameLength).toString('utf8');
    at += 1 + nameLength;
    const type = bytes.readUInt8(at);
    at += 1;
    if (type === 6 || type === 7) {
      const length = bytes.readUInt16BE(at);
      if (type === 7) headers[name] = bytes.subarray(at + 2, at + 2 + length).toString('utf8');
      at += 2 + length;
    } else {
      const size = VALUE_SIZE[type];
      if (size === undefined) throw new Error(`unknown event-stream header type ${type}`);
      at += size;
    }
  }
  return headers;
}

/**
 * Splits an `application/vnd.amazon.eventstream` body (Bedrock's streaming format) into messages. Each
 * message is `total length, headers length, prelude CRC, headers, payload, message CRC`.
 *
 * @example
 * for await (const m of eventStream(response.body)) console.log(m.headers[':event-type'], m.payload.toString());
 */
export async function* eventStream(body: AsyncIterable<Uint8Array>): AsyncGenerator<EventMessage> {
  let buffer = Buffer.alloc(0);
  for await (const bytes of body) {
    buffer = Buffer.concat([buffer, bytes]);
    while (buffer.length >= 12) {
      const total = buffer.readUInt32BE(0);
      if (total < 16) throw new Error('malformed event-stream message');
      if (buffer.length < total) break;
      const headersLength = buffer.readUInt32BE(4);
      const headers = readHeaders(buffer.subarray(12, 12 + headersLength));
      const payload = buffer.subarray(12 + headersLength, total - 4);
      yield { headers, payload: Buffer.from(payload) };
      buffer = buffer.subarray(total);
    }
  }
  if (buffer.length > 0) throw new Error('the event stream ended inside a message');
}
