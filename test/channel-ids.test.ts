// Every message that names a channel writes its id the same way: 0x and two hex digits.
import t from 'tap';
import { PassThrough } from 'node:stream';
import { channelIdHex, fillChannelDescriptor } from '../lib/conn/channel.js';
import { MConnection } from '../lib/conn/mconnection.js';
import { UnknownChannelError } from '../lib/errors.js';
import { NodeKey } from '../lib/node-key.js';
import { Switch } from '../lib/switch.js';
import { RecordingReactor } from './helpers/switches.js';

t.test('channelIdHex: 0x and two hex digits for 0..255, anything else as it is', async (t) => {
  t.same([0, 5, 0x40, 255].map(channelIdHex), ['0x00', '0x05', '0x40', '0xff']);
  t.same([256, -1, 1.5, NaN].map(channelIdHex), ['256', '-1', '1.5', 'NaN']);
});

t.test('MConnection, descriptors, the Switch and UnknownChannelError all print 0x05', async (t) => {
  const conn = new MConnection(
    new PassThrough(),
    [{ id: 0x40 }],
    () => {},
    () => {},
  );
  t.teardown(() => conn.stop());
  await t.rejects(conn.send(5, Buffer.from('x')), { code: 'ERR_INVALID_ARGUMENT', message: 'unknown channel 0x05' });
  t.throws(() => conn.trySend(5, Buffer.from('x')), { message: 'unknown channel 0x05' });
  t.throws(() => fillChannelDescriptor({ id: 5, priority: 0 }), { message: 'channel 0x05: priority must be > 0, got 0' });
  t.throws(() => fillChannelDescriptor({ id: 5, sendQueueCapacity: 0 }), {
    message: 'channel 0x05: sendQueueCapacity must be a positive integer, got 0',
  });
  t.throws(
    () =>
      new MConnection(
        new PassThrough(),
        [{ id: 5 }, { id: 5 }],
        () => {},
        () => {},
      ),
    { message: 'duplicate channel id 0x05' },
  );
  const sw = new Switch({ nodeKey: NodeKey.generate() });
  sw.addReactor(new RecordingReactor([{ id: 5 }], 'one'));
  t.throws(() => sw.addReactor(new RecordingReactor([{ id: 5 }], 'two')), { message: 'channel 0x05 of reactor two is already taken' });
  t.equal(new UnknownChannelError(5).message, 'unknown channel 0x05');
});
