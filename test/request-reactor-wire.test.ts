// The RequestReactor header decoder: every bound checked, nothing crashes.
import t from 'tap';
import fc from 'fast-check';
import { decodeRequestMessage, encodeError, MAX_ERROR_MESSAGE } from '../lib/request-wire.js';

t.test('malformed headers are ERR_MALFORMED_PACKET', async (t) => {
  const bad = [
    '',
    '01',
    '0100000001',
    '01000000010000',
    '010000000100000000',
    '0500000001',
    '040000000100',
    '0300000001',
    '030000000100',
    '0300000001410041',
    '030000000102ff41',
    '0300000001014180',
  ];
  for (const hex of bad) t.throws(() => decodeRequestMessage(Buffer.from(hex, 'hex')), { code: 'ERR_MALFORMED_PACKET' }, hex || '(empty)');
  const longMsg = Buffer.concat([Buffer.from('030000000101', 'hex'), Buffer.from('A'), Buffer.alloc(MAX_ERROR_MESSAGE + 1, 0x61)]);
  t.throws(() => decodeRequestMessage(longMsg), { code: 'ERR_MALFORMED_PACKET', message: /exceeds/ });
});

t.test('encodeError bounds what it sends', async (t) => {
  const e = decodeRequestMessage(encodeError(9, 'not a code!', 'é'.repeat(2000)));
  t.match(e, { kind: 'error', id: 9, code: 'ERR_HANDLER' });
  t.ok(
    e.kind === 'error' && Buffer.byteLength(e.message) <= MAX_ERROR_MESSAGE && e.message === 'é'.repeat(512),
    'cut at a character boundary',
  );
});

t.test('random bytes decode or throw a typed error', async () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
      try {
        decodeRequestMessage(b);
      } catch (err) {
        if ((err as { code?: string }).code !== 'ERR_MALFORMED_PACKET') throw err;
      }
    }),
    { numRuns: 2000 },
  );
});
