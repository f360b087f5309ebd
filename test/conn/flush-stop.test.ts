// flushStop's second wait (for the peer to close after our FIN) ends early
// when there is nothing left to wait for: the connection was stopped meanwhile,
// or the peer had already finished (commit 82cefbc). Each test sets a 100 s
// flushStopTimeoutMs and allows 10 s: without the fix flushStop waits it out.
import t from 'tap';
import { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { MConnection } from '../../lib/conn/mconnection.js';
import { encodePacket } from '../../lib/conn/packet.js';
import { deferred } from '../helpers/net.js';

const LONG = 100_000;
const GUARD_MS = 10_000;

/** A Duplex that swallows writes and reports when it was ended (our FIN); the test pushes its input. */
function endpoint(t: { teardown(fn: () => unknown): void }, opts: { autoDestroy?: boolean } = {}) {
  const ended = deferred();
  const d = new Duplex({
    ...opts,
    read() {},
    write(_c, _e, cb) {
      cb();
    },
    final(cb) {
      ended.resolve();
      cb();
    },
  });
  t.teardown(() => d.destroy());
  return { d, ended: ended.promise };
}

/** `p` settled within GUARD_MS (the timer is cleared either way). */
async function settlesSoon(p: Promise<unknown>): Promise<boolean> {
  const ac = new AbortController();
  const r = await Promise.race([p.then(() => true), sleep(GUARD_MS, false, { signal: ac.signal }).catch(() => false)]);
  ac.abort();
  return r;
}

t.test('flushStop resolves when the connection is stopped while it waits for the peer to close', async (t) => {
  const { d, ended } = endpoint(t);
  const c = new MConnection(
    d,
    [{ id: 1 }],
    () => {},
    () => {},
    { flushStopTimeoutMs: LONG },
  );
  c.start();
  t.teardown(() => c.stop());
  const done = c.flushStop();
  await ended; // our FIN is out; the peer never closes
  c.stop();
  t.equal(await settlesSoon(done), true, `flushStop resolved within ${GUARD_MS} ms of stop(), not after its ${LONG} ms timeout`);
  t.equal(c.isStopped, true);
});

t.test('flushStop resolves at once when the peer had already finished', async (t) => {
  // no autoDestroy: the stream does not close by itself once both directions ended
  // (it would rescue flushStop through 'close'), as a stream whose close waits on something else
  const { d } = endpoint(t, { autoDestroy: false });
  const release = deferred();
  const got = deferred();
  // the handler holds the connection (so the peer's end does not stop it) throughout
  const c = new MConnection(
    d,
    [{ id: 1 }],
    () => (got.resolve(), release.promise),
    () => {},
    { flushStopTimeoutMs: LONG },
  );
  c.start();
  t.teardown(() => c.stop());
  d.push(encodePacket({ type: 'msg', channelId: 1, eof: true, data: Buffer.from('last') }));
  d.push(null); // the peer finished
  await got.promise;
  await new Promise((r) => setImmediate(r)); // the peer's end is read (while the handler still holds the message)
  const done = c.flushStop();
  t.teardown(() => release.resolve());
  t.equal(await settlesSoon(done), true, `flushStop resolved within ${GUARD_MS} ms, not after its ${LONG} ms timeout`);
  t.equal(c.isStopped, true);
});
