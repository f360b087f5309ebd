// MConnConfig's schema (lib/conn/mconn-config.ts): every default as documented (docs/operations.md),
// every bound at its edge, and the two cross-field rules.
import t from 'tap';
import { DEFAULT_MCONN_CONFIG, parseMConnConfig, type MConnConfig } from '../../lib/conn/mconn-config.js';
import { INITIAL_WINDOW, MAX_PACKET_PAYLOAD_LIMIT, MAX_WINDOW } from '../../lib/conn/packet.js';

t.test('the defaults', async (t) => {
  t.same(DEFAULT_MCONN_CONFIG, {
    sendRate: 0,
    recvRate: 0,
    maxPacketMsgPayloadSize: 16384,
    flushThrottleMs: 0,
    maxBatchBytes: 65536,
    recvWindowBytes: 1 << 20,
    maxRecvWindowBytes: 16 << 20,
    pingIntervalMs: 60_000,
    pongTimeoutMs: 45_000,
    sendTimeoutMs: 10_000,
    flushStopTimeoutMs: 10_000,
    maxSendWaiters: 1024,
    maxSendBufferBytes: 16 << 20,
    sendStallTimeoutMs: 30_000,
    idleTimeoutMs: 90_000,
    packetTimeoutMs: 10_000,
    messageTimeoutMs: 120_000,
  });
  t.ok(Object.isFrozen(DEFAULT_MCONN_CONFIG), 'frozen');
  t.same(parseMConnConfig(), DEFAULT_MCONN_CONFIG, 'no input: the defaults');
});

t.test('each bound: the edge value is taken, one step past it is refused naming the field', async (t) => {
  // [field, accepted edge values, refused values]
  const cases: [keyof MConnConfig, number[], unknown[]][] = [
    ['sendRate', [0, 0.5], [-1, 'fast']],
    ['recvRate', [0, 1e9], [-0.001]],
    ['maxPacketMsgPayloadSize', [1, MAX_PACKET_PAYLOAD_LIMIT], [0, MAX_PACKET_PAYLOAD_LIMIT + 1, 1.5]],
    ['flushThrottleMs', [0, 2.5], [-1]],
    ['maxBatchBytes', [1], [0, 1.5]],
    ['recvWindowBytes', [INITIAL_WINDOW], [INITIAL_WINDOW - 1, MAX_WINDOW + 1, INITIAL_WINDOW + 0.5]],
    ['maxRecvWindowBytes', [MAX_WINDOW], [INITIAL_WINDOW - 1, MAX_WINDOW + 1]],
    ['pingIntervalMs', [0.5], [0, -1]],
    ['pongTimeoutMs', [1], [0]],
    ['sendTimeoutMs', [0, 1], [-1]],
    ['flushStopTimeoutMs', [1], [0]],
    ['maxSendWaiters', [1], [0, 2.5]],
    ['maxSendBufferBytes', [1], [0, 0.5]],
    ['sendStallTimeoutMs', [0], [-1]],
    ['idleTimeoutMs', [0, 60_001], [-1]],
    ['packetTimeoutMs', [0], [-1]],
    ['messageTimeoutMs', [0], [-1]],
  ];
  for (const [field, good, bad] of cases) {
    for (const v of good) t.equal(parseMConnConfig({ [field]: v })[field], v, `${field} = ${v} is taken`);
    for (const v of bad)
      t.throws(
        () => parseMConnConfig({ [field]: v } as Partial<MConnConfig>),
        { code: 'ERR_INVALID_ARGUMENT', message: new RegExp(`^invalid MConnection config: ${field}: `) },
        `${field} = ${JSON.stringify(v)} is refused`,
      );
  }
  t.throws(() => parseMConnConfig({ sendRat: 1 } as never), {
    message: 'invalid MConnection config: sendRat: unknown key (did you mean sendRate?)',
  });
});

t.test('idleTimeoutMs must exceed pingIntervalMs (or be 0); maxRecvWindowBytes must be at least recvWindowBytes', async (t) => {
  t.throws(() => parseMConnConfig({ pingIntervalMs: 1000, idleTimeoutMs: 1000 }), {
    code: 'ERR_INVALID_ARGUMENT',
    message: 'invalid MConnection config: idleTimeoutMs: must exceed pingIntervalMs (1000), or be 0; got 1000',
  });
  t.equal(parseMConnConfig({ pingIntervalMs: 1000, idleTimeoutMs: 1001 }).idleTimeoutMs, 1001);
  t.equal(parseMConnConfig({ pingIntervalMs: 1000, idleTimeoutMs: 0 }).idleTimeoutMs, 0, '0: no idle timeout');
  t.throws(
    () => parseMConnConfig({ pingIntervalMs: 100_000 }),
    { message: /idleTimeoutMs: must exceed pingIntervalMs \(100000\)/ },
    'against the default idle timeout',
  );
  t.throws(() => parseMConnConfig({ recvWindowBytes: 2 << 20, maxRecvWindowBytes: (2 << 20) - 1 }), {
    message: `invalid MConnection config: maxRecvWindowBytes: must be at least recvWindowBytes (${2 << 20}); got ${(2 << 20) - 1}`,
  });
  const c = parseMConnConfig({ recvWindowBytes: 2 << 20, maxRecvWindowBytes: 2 << 20 });
  t.equal(c.maxRecvWindowBytes, 2 << 20, 'equal is fine');
  t.throws(
    () => parseMConnConfig({ recvWindowBytes: 32 << 20 }),
    { message: /maxRecvWindowBytes: must be at least recvWindowBytes/ },
    'against the default maximum',
  );
});
