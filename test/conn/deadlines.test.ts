// An MConnection's isolation deadlines as pure functions (lib/conn/deadlines.ts): how often the
// watchdog looks, and which deadline is past, with its typed error. The end-to-end behaviour
// over sockets is in test/reliability/idle-peers.test.ts and the never-reading tests.
import t from 'tap';
import type { Channel } from '../../lib/conn/channel.js';
import { DEFAULT_MCONN_CONFIG, type MConnConfig } from '../../lib/conn/mconn-config.js';
import { overdue, watchdogPeriod, type DeadlineClocks } from '../../lib/conn/deadlines.js';

const off: MConnConfig = { ...DEFAULT_MCONN_CONFIG, sendStallTimeoutMs: 0, idleTimeoutMs: 0, packetTimeoutMs: 0, messageTimeoutMs: 0 };
const clocks = (s: Partial<DeadlineClocks> = {}): DeadlineClocks => ({
  sendStalledSince: 0,
  lastRecvAt: 1_000_000,
  packetStartedAt: 0,
  readPaused: false,
  ...s,
});
const chan = (id: number, recvStartedAt: number, blocked = false) => ({ desc: { id }, recvStartedAt, blocked }) as unknown as Channel;

t.test('watchdogPeriod: a quarter of the shortest deadline set, within 20..1000 ms; none set: no watchdog', async (t) => {
  t.equal(watchdogPeriod(off), undefined);
  t.equal(watchdogPeriod({ ...off, idleTimeoutMs: 2000 }), 500);
  t.equal(watchdogPeriod({ ...off, idleTimeoutMs: 2000, packetTimeoutMs: 400, messageTimeoutMs: 0 }), 100, 'the shortest set');
  t.equal(watchdogPeriod({ ...off, sendStallTimeoutMs: 800, messageTimeoutMs: 1200 }), 200);
  t.equal(watchdogPeriod({ ...off, messageTimeoutMs: 40 }), 20, 'at least 20 ms');
  t.equal(watchdogPeriod({ ...off, idleTimeoutMs: 60_000 }), 1000, 'at most 1 s');
  t.equal(watchdogPeriod({ ...off, sendStallTimeoutMs: 4004 }), 1000);
  t.equal(watchdogPeriod({ ...off, sendStallTimeoutMs: 3996 }), 999);
});

t.test('overdue: each deadline fires strictly after its timeout, with its code and message', async (t) => {
  const now = 1_000_000;
  t.equal(overdue(off, now + 1e9, clocks({ sendStalledSince: 1, packetStartedAt: 1 }), [chan(1, 1)]), undefined, 'all off: never');

  const send = { ...off, sendStallTimeoutMs: 5000 };
  t.equal(overdue(send, now, clocks({ sendStalledSince: now - 5000 }), []), undefined, 'at the send-stall timeout: not yet');
  t.match(overdue(send, now, clocks({ sendStalledSince: now - 5001 }), []), {
    code: 'ERR_SEND_STALL',
    message: 'peer let us send nothing for 5000 ms while we had data for it',
  });
  t.equal(overdue(send, now, clocks({ sendStalledSince: 0 }), []), undefined, 'not stalled (0): never');
  t.match(
    overdue(send, now, clocks({ sendStalledSince: now - 6000, readPaused: true }), []),
    { code: 'ERR_SEND_STALL' },
    'counts while our reader is paused',
  );

  const idle = { ...off, idleTimeoutMs: 3000 };
  t.equal(overdue(idle, now, clocks({ lastRecvAt: now - 3000 }), []), undefined, 'at the idle timeout: not yet');
  t.match(overdue(idle, now, clocks({ lastRecvAt: now - 3001 }), []), {
    code: 'ERR_IDLE_TIMEOUT',
    message: 'nothing received for 3000 ms',
  });
  t.equal(overdue(idle, now, clocks({ lastRecvAt: now - 9000, readPaused: true }), []), undefined, 'not while our reader is paused');

  const packet = { ...off, packetTimeoutMs: 1000 };
  t.equal(overdue(packet, now, clocks({ packetStartedAt: now - 1000 }), []), undefined, 'at the packet timeout: not yet');
  t.match(overdue(packet, now, clocks({ packetStartedAt: now - 1001 }), []), {
    code: 'ERR_RECV_STALL',
    message: 'a packet stayed incomplete for 1000 ms',
  });
  t.equal(overdue(packet, now, clocks({ packetStartedAt: 0 }), []), undefined, 'no packet in progress (0)');
  t.equal(overdue(packet, now, clocks({ packetStartedAt: now - 5000, readPaused: true }), []), undefined, 'not while paused');

  const msg = { ...off, messageTimeoutMs: 2000 };
  t.equal(overdue(msg, now, clocks(), [chan(1, now - 2000)]), undefined, 'at the message timeout: not yet');
  t.match(overdue(msg, now, clocks(), [chan(1, 0), chan(0x2a, now - 2001)]), {
    code: 'ERR_RECV_STALL',
    message: 'a message on channel 0x2a stayed incomplete for 2000 ms',
  });
  t.equal(overdue(msg, now, clocks(), [chan(1, now - 9000, true)]), undefined, 'a channel its reactor paused does not count');
  t.equal(overdue(msg, now, clocks(), [chan(1, 0)]), undefined, 'no message in progress (0)');
  t.equal(overdue(msg, now, clocks({ readPaused: true }), [chan(1, now - 9000)]), undefined, 'not while our reader is paused');
});

t.test('overdue: the send stall is reported first, then idle, then packet, then message', async (t) => {
  const all = { ...off, sendStallTimeoutMs: 10, idleTimeoutMs: 10, packetTimeoutMs: 10, messageTimeoutMs: 10 };
  const now = 1_000_000;
  const late = now - 100;
  const chs = [chan(3, late)];
  t.equal(overdue(all, now, clocks({ sendStalledSince: late, lastRecvAt: late, packetStartedAt: late }), chs)?.code, 'ERR_SEND_STALL');
  t.equal(overdue(all, now, clocks({ lastRecvAt: late, packetStartedAt: late }), chs)?.code, 'ERR_IDLE_TIMEOUT');
  t.match(overdue(all, now, clocks({ packetStartedAt: late }), chs), { message: /a packet/ });
  t.match(overdue(all, now, clocks(), chs), { message: /a message on channel 0x3/ });
});
