// The address book's tuning constants (reactors/pex/params.ts) are CometBFT's p2p/pex/params.go
// values (durations converted to ms), plus our file bounds: peers tuned to CometBFT rely on them.
import t from 'tap';
import * as P from '../../../reactors/pex/params.js';

const DAY = 24 * 60 * 60 * 1000;

t.test('the book constants are CometBFT’s', async (t) => {
  t.same(
    {
      need: P.NEED_ADDRESS_THRESHOLD,
      dump: P.DUMP_ADDRESS_INTERVAL_MS,
      buckets: [P.OLD_BUCKET_SIZE, P.OLD_BUCKET_COUNT, P.NEW_BUCKET_SIZE, P.NEW_BUCKET_COUNT],
      perGroup: [P.OLD_BUCKETS_PER_GROUP, P.NEW_BUCKETS_PER_GROUP, P.MAX_NEW_BUCKETS_PER_ADDRESS],
      missing: P.NUM_MISSING_MS,
      retries: [P.NUM_RETRIES, P.MAX_FAILURES],
      minBad: P.MIN_BAD_MS,
      recent: P.RECENT_ATTEMPT_MS,
      selection: [P.GET_SELECTION_PERCENT, P.MIN_GET_SELECTION, P.MAX_GET_SELECTION],
    },
    {
      need: 1000,
      dump: 120_000,
      buckets: [64, 64, 64, 256],
      perGroup: [4, 32, 4],
      missing: 7 * DAY,
      retries: [3, 10],
      minBad: 7 * DAY,
      recent: 60_000,
      selection: [23, 32, 250],
    },
  );
});

t.test('our own bounds: future skew, capacity, bans, file size and format', async (t) => {
  t.equal(P.MAX_FUTURE_SKEW_MS, 600_000, '10 minutes of clock skew');
  t.equal(P.ADDR_BOOK_CAPACITY, 20_480, 'every new and old bucket full: 256·64 + 64·64');
  t.equal(P.MAX_BANS, 20_480);
  t.equal(P.MAX_ADDR_BOOK_FILE_BYTES, 33_554_432, '32 MiB');
  t.equal(P.ADDR_BOOK_FILE_VERSION, 1);
  t.equal(P.ADDR_BOOK_KEY_BYTES, 24);
});
