import t from 'tap';
import { NetAddress, MAX_UNIX_PATH_LENGTH } from '../lib/net-address.js';

const ID = 'a'.repeat(40);

t.test('id@unix:///path parses, prints back, and is local and never routable', async (t) => {
  const a = NetAddress.parse(`${ID}@unix:///tmp/sb/a.sock`);
  t.equal(a.protocol, 'unix');
  t.equal(a.host, '/tmp/sb/a.sock');
  t.equal(a.port, 0);
  t.equal(a.toString(), `${ID}@unix:///tmp/sb/a.sock`);
  t.equal(a.dialString(), 'unix:///tmp/sb/a.sock');
  t.equal(a.local(), true);
  t.equal(a.routable(), false);
  t.equal(a.isIP(), false);
  t.ok(a.equals(NetAddress.parse(a.toString())));
  t.notOk(a.equals(new NetAddress(ID, 'localhost', 0)));
  t.equal(NetAddress.parse('unix:///x.sock', { requireId: false }).toString(), 'unix:///x.sock');
  t.throws(() => NetAddress.parse('unix:///x.sock'), { code: 'ERR_INVALID_ADDRESS' }, 'the ID is still required by default');
});

t.test('bad Unix socket paths are refused with ERR_INVALID_ADDRESS', async (t) => {
  t.throws(() => NetAddress.parse(`${ID}@unix://relative.sock`), { code: 'ERR_INVALID_ADDRESS', message: /absolute/ });
  t.throws(() => NetAddress.parse(`${ID}@unix:///a\0b`), { code: 'ERR_INVALID_ADDRESS', message: /NUL/ });
  t.throws(() => NetAddress.parse(`${ID}@unix:///${'x'.repeat(MAX_UNIX_PATH_LENGTH)}`), {
    code: 'ERR_INVALID_ADDRESS',
    message: /at most/,
  });
  t.doesNotThrow(() => NetAddress.parse(`${ID}@unix:///${'x'.repeat(MAX_UNIX_PATH_LENGTH - 1)}`));
  t.throws(() => new NetAddress(ID, '/a.sock', 1, 'unix'), { code: 'ERR_INVALID_ADDRESS', message: /no port/ });
  t.throws(() => new NetAddress(ID, 'h', 1, 'udp' as never), { code: 'ERR_INVALID_ADDRESS', message: /unknown protocol/ });
});

t.test('parseListen takes [tcp://]host:port (port 0 allowed) and unix:///path', async (t) => {
  t.equal(NetAddress.parseListen('tcp://0.0.0.0:0').dialString(), '0.0.0.0:0');
  t.equal(NetAddress.parseListen('[::1]:26656').dialString(), '[::1]:26656');
  t.equal(NetAddress.parseListen('unix:///run/sb.sock').protocol, 'unix');
  for (const bad of ['', 'host', '1.2.3.4:70000', '[1.2.3.4]:1', 'unix://rel', 'a b:1']) {
    t.throws(() => NetAddress.parseListen(bad), { code: 'ERR_INVALID_ADDRESS' }, bad);
  }
});
