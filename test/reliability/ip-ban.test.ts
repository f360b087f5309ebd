/**
 * Issue #14, row 5: a PEX abuse ban is keyed on the ID and the address, so a
 * fresh key from the same address used to be accepted at once. The ban goes
 * through the Switch and also covers the remote IP (`banIpScope`: routable
 * IPs by default, so loopback and private networks are not banned
 * wholesale; `all` here, as every test runs on 127.0.0.1).
 */
import t from 'tap';
import { encodePexAddrs, PEX_CHANNEL } from '../../reactors/pex/messages.js';
import { NetAddress } from '../../lib/net-address.js';
import { NodeKey } from '../../lib/node-key.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { startTarget } from '../helpers/target.js';
import { within } from '../helpers/time.js';

t.test('a PEX abuser is banned by IP: a fresh key from the same address does not walk back in', async (t) => {
  const target = await startTarget(t, { banIpScope: 'all' }, { pex: true });
  const abuser = await RawPeer.connect(t, target.port);
  await abuser.join();
  // addresses nobody asked for: a PEX offence
  abuser.sendPackets({
    type: 'msg',
    channelId: PEX_CHANNEL,
    eof: true,
    data: Buffer.from(encodePexAddrs([new NetAddress(NodeKey.generate().id, '8.8.8.8', 26656)])),
  });
  const first = await target.log.forRaw(abuser, 5000);
  t.equal(first.code, 'ERR_REJECTED', `the abuser is disconnected (${first.err.message})`);
  await within(abuser.closed, 3000, 'its socket is closed');
  t.ok(target.sw.isBanned('127.0.0.1'), 'its IP is banned');

  const fresh = await RawPeer.connect(t, target.port); // a new key, the same address
  const r = await target.log.forRaw(fresh, 5000);
  t.equal(r.code, 'ERR_BANNED', 'the fresh key is refused with ERR_BANNED');
  t.equal(r.kind, 'inbound', 'at accept, before any handshake work');
  await within(fresh.closed, 3000, 'its socket is closed');
});

t.test('by default only routable IPs are banned with an address; loopback and private ones are not', async (t) => {
  const target = await startTarget(t);
  const id = () => NodeKey.generate().id;
  target.sw.banPeer(`${id()}@8.8.8.8:26656`, 60_000);
  target.sw.banPeer(`${id()}@127.0.0.1:26656`, 60_000);
  target.sw.banPeer(`${id()}@192.168.1.7:26656`, 60_000);
  t.ok(target.sw.isBanned('8.8.8.8'), 'a routable IP is banned');
  t.notOk(target.sw.isBanned('127.0.0.1'), 'loopback is not');
  t.notOk(target.sw.isBanned('192.168.1.7'), 'a private IP is not');
  target.sw.banPeer('10.0.0.1', 60_000);
  t.ok(target.sw.isBanned('10.0.0.1'), 'a bare IP is banned whatever its range (the operator asked for it)');
});
