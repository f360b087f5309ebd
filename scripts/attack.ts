/**
 * `npm run attack`: the attacks of issue #14 against a running node.
 *
 * For each scenario a fresh victim — `switchboard node` as its own process
 * (`node --import tsx <cli> node …`, default config, PEX on, on
 * 127.0.0.1) — is started; an honest pair (two Switches with the gossip
 * reactor, in a process of their own) connects to it and gossips through it
 * the whole time (each publishes every 100 ms and must hear every message of
 * the other); then the attacker runs (in this process):
 *
 * | scenario | attack |
 * | --- | --- |
 * | `silent` | 64 TCP connections that send nothing, each re-opened as soon as the victim closes it; honest handshakes (a fresh key each) are attempted meanwhile and counted as the honest messages |
 * | `flood` | a peer that completes the handshake, then never reads (a pong every 5 s), plus a peer flooding unique valid 1 KiB gossip as fast as the victim takes it |
 * | `pings` | pings written at socket speed |
 * | `quiet` | a peer that goes quiet after the handshake, one that stops in the middle of a packet, and pong-only peers holding every other inbound slot (`maxNumInboundPeers` 8; a fifth takes the mid-packet peer's slot once it is gone), then a newcomer after 35 s |
 * | `ban` | a peer on 127.0.0.2 that breaks PEX (addresses nobody asked for), then a fresh key from the same address |
 *
 * Printed per scenario: victim up (process alive and the honest pair still
 * connected), victim RSS before/after (max over the attack, from
 * /proc/<pid>/status), honest messages sent/received/lost, honest p99
 * latency, and the time until the attacker was disconnected (`-`: never,
 * within the run).
 *
 * ```
 * npm run attack                                   # every scenario against this checkout
 * npm run attack -- --cli ../main/cli/index.ts     # against another checkout's CLI
 * npm run attack -- --only flood,pings --seconds 10
 * ```
 *
 * `--victim-node-args '--max-semi-space-size=4 --trace-gc'` starts the
 * victim's Node.js with those options (its stderr is not shown).
 *
 * `--victim-config '{"banIpScope":"all"}'` adds p2p settings to the
 * victim's config file (the `ban` scenario adds `banIpScope: "all"` itself
 * when the victim knows the setting: loopback is not banned by IP by default).
 *
 * @module
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net, { type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePexAddrs, PEX_CHANNEL } from '../reactors/pex/messages.js';
import { GossipReactor } from '../reactors/examples/gossip/reactor.js';
import { NetAddress } from '../lib/net-address.js';
import { NodeKey } from '../lib/node-key.js';
import { Switch } from '../lib/switch.js';
import { childEnv } from '../test/helpers/child-env.js';
import { freePort } from '../test/helpers/net.js';
import { ECHO_CHANNEL } from '../test/helpers/echo-reactor.js';
import { RawPeer, msgHeader } from '../test/helpers/raw-peer.js';
import { NETWORK } from '../test/helpers/target.js';

interface Args {
  cli: string;
  only: string[];
  seconds: number;
  victimConfig: Record<string, unknown>;
  /** Node.js/V8 options of the victim process (`--victim-node-args`, space-separated). */
  victimNodeArgs: string[];
}

const SCENARIOS = ['silent', 'flood', 'pings', 'quiet', 'ban'] as const;
type Scenario = (typeof SCENARIOS)[number];

function parseArgs(argv: string[]): Args {
  const a: Args = {
    cli: fileURLToPath(new URL('../cli/index.ts', import.meta.url)),
    only: [...SCENARIOS],
    seconds: 15,
    victimConfig: {},
    victimNodeArgs: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = argv[++i];
    if (v === undefined) throw new Error(`${k} needs a value`);
    if (k === '--cli') a.cli = resolve(v);
    else if (k === '--only') a.only = v.split(',');
    else if (k === '--seconds') a.seconds = Number(v);
    else if (k === '--victim-config') a.victimConfig = JSON.parse(v) as Record<string, unknown>;
    else if (k === '--victim-node-args') a.victimNodeArgs = v.split(/\s+/).filter(Boolean);
    else throw new Error(`unknown option ${k} (--cli, --only, --seconds, --victim-config, --victim-node-args)`);
  }
  for (const s of a.only)
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s} (${SCENARIOS.join(', ')})`);
  if (!(a.seconds > 0 && a.seconds <= 600)) throw new Error('--seconds must be 1..600');
  return a;
}

/** Cleanup registry (RawPeer wants a test-like teardown). */
class Teardown {
  private fns: (() => unknown)[] = [];
  teardown(fn: () => unknown): void {
    this.fns.push(fn);
  }
  async run(): Promise<void> {
    for (const fn of this.fns.reverse())
      await Promise.resolve()
        .then(fn)
        .catch(() => {});
    this.fns = [];
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Victim {
  child: ChildProcess;
  addr: string;
  port: number;
  alive: () => boolean;
  rssMb: () => number;
}

/** Start `switchboard node` on a free port with `p2p` settings; rejects if it exits first (e.g. a setting it does not know). */
async function startVictim(td: Teardown, cli: string, p2p: Record<string, unknown>, nodeArgs: string[]): Promise<Victim> {
  const home = mkdtempSync(join(tmpdir(), 'switchboard-attack-'));
  td.teardown(() => rmSync(home, { recursive: true, force: true }));
  mkdirSync(join(home, 'config'), { recursive: true });
  const port = await freePort();
  const cfg = join(home, 'config', 'config.json');
  writeFileSync(cfg, JSON.stringify({ network: NETWORK, moniker: 'victim', p2p: { listenAddress: `127.0.0.1:${port}`, ...p2p } }));
  // stdout to a file: the node prints a line per gossip message, which a busy reader of a pipe would make it buffer
  const outPath = join(home, 'stdout.txt');
  const out = openSync(outPath, 'w');
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', cli, 'node', '--home', home, '--config', cfg, '--log-level', 'silent'],
    {
      stdio: ['ignore', out, 'pipe'],
      env: childEnv(),
    },
  );
  closeSync(out);
  let exited = false;
  const exit = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
  td.teardown(async () => {
    child.kill('SIGKILL');
    await exit;
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  let addr: string | undefined;
  for (let i = 0; i < 600 && !addr; i++) {
    if (exited) throw new Error(`victim exited before listening: ${stderr.trim().split('\n').slice(-2).join(' ')}`);
    addr = / listening on (\S+)/.exec(readFileSync(outPath, 'utf8'))?.[1];
    if (!addr) await sleep(50);
  }
  if (!addr) throw new Error('victim did not listen within 30 s');
  const rssMb = () => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) / 1024 : NaN;
    } catch {
      return NaN;
    }
  };
  return { child, addr, port, alive: () => !exited, rssMb };
}

/** What the honest pair's process reports. */
interface HonestReport {
  sent: number;
  received: number;
  latencies: number[];
  connected: boolean;
}

/**
 * The honest pair, in a process of its own (so the attackers' CPU use in
 * this process does not count against it): A and B both publish every
 * `intervalMs` and each records when the other's messages arrive.
 */
async function honestPairProcess(): Promise<void> {
  const settings = new Promise<{ addr: string; intervalMs: number }>((r) =>
    process.once('message', (m) => r(m as { addr: string; intervalMs: number })),
  );
  process.send!({ type: 'hello' });
  const { addr, intervalMs } = await settings;
  const victimId = addr.split('@')[0]!;
  const mk = async (moniker: string) => {
    const sw = new Switch({
      nodeKey: NodeKey.generate(),
      nodeInfo: { network: NETWORK, moniker },
      config: { listenAddress: '127.0.0.1:0' },
    });
    const g = sw.addReactor(new GossipReactor());
    await sw.start();
    await sw.dialPeerWithAddress(addr);
    return { sw, g };
  };
  const pair = [await mk('honest-a'), await mk('honest-b')];
  const publishedAt = new Map<string, number>();
  const latencies: number[] = [];
  let sent = 0;
  for (const { g } of pair) {
    g.events.on('message', (m, from) => {
      const at = from ? publishedAt.get(m.text) : undefined;
      if (at !== undefined) {
        latencies.push(performance.now() - at);
        publishedAt.delete(m.text);
      }
    });
  }
  process.send!({ type: 'ready' });
  await new Promise((r) => process.once('message', r));
  const timer = setInterval(() => {
    const text = `honest ${++sent}`;
    publishedAt.set(text, performance.now());
    pair[sent % 2]!.g.publish(text);
  }, intervalMs);
  await new Promise((r) => process.once('message', r));
  clearInterval(timer);
  // late messages are late, not lost: wait until none has arrived for 3 s (at most 20 s)
  for (
    let last = -1, quietSince = performance.now(), t0 = performance.now();
    performance.now() - quietSince < 3000 && performance.now() - t0 < 20_000;
    await sleep(100)
  ) {
    if (latencies.length !== last) {
      last = latencies.length;
      quietSince = performance.now();
    }
  }
  const report: HonestReport = { sent, received: latencies.length, latencies, connected: pair.every(({ sw }) => sw.peers.has(victimId)) };
  process.send!({ type: 'report', report }, () => process.exit(0));
}

/** Handle on the honest pair's process. */
class HonestPair {
  private constructor(private readonly child: ChildProcess) {}

  static async start(td: Teardown, victim: Victim, intervalMs: number): Promise<HonestPair> {
    const child = fork(fileURLToPath(import.meta.url), ['--honest-pair'], {
      execArgv: ['--import', 'tsx'],
      env: childEnv(),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    td.teardown(() => child.kill('SIGKILL'));
    const next = () =>
      new Promise<void>((r, reject) => {
        child.once('message', () => r());
        child.once('exit', (code) => reject(new Error(`honest pair exited (${code})`)));
      });
    await next(); // hello
    child.send({ addr: victim.addr, intervalMs });
    await next(); // ready
    return new HonestPair(child);
  }

  run(): void {
    this.child.send('run');
  }

  stop(): Promise<HonestReport> {
    return new Promise((r) => {
      this.child.on('message', (m: { type: string; report?: HonestReport }) => m.type === 'report' && r(m.report!));
      this.child.send('stop');
    });
  }
}

interface Row {
  scenario: Scenario;
  up: boolean;
  rssBefore: number;
  rssMax: number;
  rssAfter: number;
  sent: number;
  received: number;
  p99: number;
  disconnectedMs: string;
  note: string;
}

function p99(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]!;
}

/**
 * True when the remote has closed the TCP connection of our `localPort`
 * (state CLOSE_WAIT or gone in /proc/net/tcp): a paused socket does not read,
 * so it never sees the FIN itself.
 */
function remoteClosed(localPort: number): boolean {
  const hex = localPort.toString(16).toUpperCase().padStart(4, '0');
  try {
    const line = readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .find((l) => l.trim().split(/\s+/)[1]?.endsWith(`:${hex}`));
    return line === undefined || line.trim().split(/\s+/)[3] === '08';
  } catch {
    return false;
  }
}

/** Resolves with ms from `start` when `sock` closes (or, paused, its remote closed), or undefined after `limitMs`. */
function closedWithin(sock: Socket, start: number, limitMs: number): Promise<number | undefined> {
  return new Promise((r) => {
    if (sock.destroyed) return r(performance.now() - start);
    const port = sock.localPort ?? 0;
    const done = (v: number | undefined) => {
      clearTimeout(timer);
      clearInterval(poll);
      r(v);
    };
    const timer = setTimeout(() => done(undefined), limitMs);
    const poll = setInterval(() => sock.isPaused() && remoteClosed(port) && done(performance.now() - start), 100);
    sock.once('close', () => done(performance.now() - start));
  });
}

/** Resolves on the socket's next 'drain' or its 'close', whichever comes first (no listener left behind). */
function drainOrClose(sock: Socket): Promise<void> {
  return new Promise((r) => {
    const done = () => {
      sock.off('drain', done);
      sock.off('close', done);
      r();
    };
    sock.once('drain', done);
    sock.once('close', done);
  });
}

const fmtMs = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);

async function scenario(name: Scenario, args: Args): Promise<Row> {
  const td = new Teardown();
  try {
    const extra: Record<string, unknown> = { ...args.victimConfig };
    if (name === 'quiet') extra.maxNumInboundPeers = 8;
    let victim: Victim;
    let note = '';
    if (name === 'ban') {
      try {
        victim = await startVictim(td, args.cli, { ...extra, banIpScope: 'all' }, args.victimNodeArgs);
        note = 'banIpScope all';
      } catch {
        victim = await startVictim(td, args.cli, extra, args.victimNodeArgs);
        note = 'victim has no banIpScope';
      }
    } else victim = await startVictim(td, args.cli, extra, args.victimNodeArgs);
    const honest = await HonestPair.start(td, victim, 50);
    await sleep(500);
    const rssBefore = victim.rssMb();
    let rssMax = rssBefore;
    const rssTimer = setInterval(() => (rssMax = Math.max(rssMax, victim.rssMb())), 100);
    td.teardown(() => clearInterval(rssTimer));
    honest.run();
    const ms = args.seconds * 1000;
    const start = performance.now();
    let disconnected: (number | undefined)[] = [];
    let sent: number | undefined;
    let received: number | undefined;
    const handshakeMs: number[] = [];

    if (name === 'silent') {
      let running = true;
      let firstClosed: number | undefined;
      const live = new Set<Socket>();
      const open = () => {
        if (!running) return;
        const s = net.connect(victim.port, '127.0.0.1');
        live.add(s);
        s.on('error', () => {});
        s.resume();
        s.once('close', () => {
          live.delete(s);
          firstClosed ??= performance.now() - start;
          setImmediate(open);
        });
      };
      for (let i = 0; i < 64; i++) open();
      td.teardown(() => {
        running = false;
        for (const s of live) s.destroy();
      });
      await sleep(300);
      let ok = 0;
      let tried = 0;
      while (performance.now() - start < ms) {
        tried++;
        const sub = new Teardown();
        try {
          const raw = await RawPeer.connect(sub, victim.port);
          const t0 = performance.now();
          await Promise.race([raw.join(), sleep(5000).then(() => Promise.reject(new Error('timeout')))]);
          handshakeMs.push(performance.now() - t0);
          ok++;
        } catch {
          // refused or timed out
        }
        await sub.run();
        await sleep(200);
      }
      running = false;
      sent = tried;
      received = ok;
      disconnected = [firstClosed];
      note = 'honest = handshakes; p99 = handshake time';
    } else if (name === 'flood') {
      const stuck = await RawPeer.connect(td, victim.port);
      await stuck.join();
      stuck.sock.pause();
      const pongs = setInterval(() => stuck.sendPackets({ type: 'pong' }), 5000);
      td.teardown(() => clearInterval(pongs));
      const flooder = new Switch({
        nodeKey: NodeKey.generate(),
        nodeInfo: { network: NETWORK, moniker: 'flooder' },
        config: { listenAddress: '127.0.0.1:0' },
      });
      const g = flooder.addReactor(new GossipReactor());
      await flooder.start();
      td.teardown(() => flooder.stop());
      const fp = await flooder.dialPeerWithAddress(victim.addr);
      const stuckGone = closedWithin(stuck.sock, start, ms);
      let floodGoneAt: number | undefined;
      flooder.once('peer:remove', () => (floodGoneAt = performance.now() - start));
      const filler = 'f'.repeat(1000);
      let n = 0;
      // about 10k messages/s of 1 KiB, as the attacker; yields to the loop every 100
      while (performance.now() - start < ms && flooder.peers.has(fp.id)) {
        const turn = performance.now();
        for (let i = 0; i < 100; i++) g.publish(`${++n}${filler}`);
        await sleep(Math.max(0, 10 - (performance.now() - turn)));
      }
      disconnected = [await stuckGone, floodGoneAt];
      note = `never-reader, flooder (${n} msgs)`;
    } else if (name === 'pings') {
      const raw = await RawPeer.connect(td, victim.port);
      await raw.join();
      const pings = Buffer.alloc(16_384, 0x01);
      const gone = closedWithin(raw.sock, start, ms);
      while (performance.now() - start < ms && !raw.sock.destroyed) {
        if (!raw.sock.write(raw.sealer!.seal(pings))) await drainOrClose(raw.sock);
      }
      disconnected = [await gone];
    } else if (name === 'quiet') {
      const quiet = await RawPeer.connect(td, victim.port);
      await quiet.join();
      const midFrame = await RawPeer.connect(td, victim.port);
      midFrame.autoPong = true;
      await midFrame.join();
      midFrame.sendPlain(Buffer.concat([msgHeader(ECHO_CHANNEL, 0x01, 100), Buffer.alloc(10, 1)]));
      const squatters: RawPeer[] = [];
      for (let i = 0; i < 4; i++) {
        const s = await RawPeer.connect(td, victim.port);
        s.autoPong = true;
        await s.join();
        squatters.push(s);
      }
      const limit = Math.max(ms, 40_000);
      const q = closedWithin(quiet.sock, start, limit);
      const mf = closedWithin(midFrame.sock, start, limit);
      const sq = Promise.race(squatters.map((s) => closedWithin(s.sock, start, limit)));
      // once the mid-packet peer is gone (or not), a fifth squatter takes its slot
      await Promise.race([mf, sleep(12_000)]);
      const fifth = await RawPeer.connect(td, victim.port);
      fifth.autoPong = true;
      await fifth.join().catch(() => {});
      await sleep(35_000 - (performance.now() - start));
      const newcomer = await RawPeer.connect(td, victim.port);
      newcomer.autoPong = true;
      let admitted = false;
      try {
        await newcomer.join();
        await sleep(1000);
        admitted = !newcomer.sock.destroyed;
      } catch {
        admitted = false;
      }
      disconnected = [await q, await mf, await sq];
      note = `quiet, mid-packet, first squatter; newcomer at 35 s ${admitted ? 'admitted' : 'refused'}`;
    } else {
      // from 127.0.0.2, so that an IP ban does not also cover the honest pair on 127.0.0.1
      const abuser = await RawPeer.connect(td, victim.port, '127.0.0.1', '127.0.0.2');
      await abuser.join();
      const gone = closedWithin(abuser.sock, start, ms);
      abuser.sendPackets({
        type: 'msg',
        channelId: PEX_CHANNEL,
        eof: true,
        data: Buffer.from(encodePexAddrs([new NetAddress(NodeKey.generate().id, '8.8.8.8', 26656)])),
      });
      disconnected = [await gone];
      const fresh = await RawPeer.connect(td, victim.port, '127.0.0.1', '127.0.0.2');
      let admitted = false;
      try {
        await Promise.race([fresh.join(), sleep(3000).then(() => Promise.reject(new Error('timeout')))]);
        await sleep(500);
        admitted = !fresh.sock.destroyed;
      } catch {
        admitted = false;
      }
      note += `; fresh key from the same address ${admitted ? 'ADMITTED' : 'refused'}`;
      await sleep(Math.max(0, 3000 - (performance.now() - start)));
    }
    await sleep(ms - (performance.now() - start)); // honest traffic goes on for the whole run
    const report = await honest.stop();
    clearInterval(rssTimer);
    const up = victim.alive() && report.connected;
    let latencies = report.latencies;
    if (sent === undefined) {
      sent = report.sent;
      received = report.received;
    } else {
      note += `; gossip ${report.sent}/${report.received}/${report.sent - report.received}`;
      latencies = handshakeMs;
    }
    return {
      scenario: name,
      up,
      rssBefore,
      rssMax,
      rssAfter: victim.rssMb(),
      sent,
      received: received!,
      p99: p99(latencies),
      disconnectedMs: disconnected.map(fmtMs).join(' / '),
      note,
    };
  } finally {
    await td.run();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  console.log(`attacking ${args.cli} (${args.seconds} s per scenario)`);
  const rows: Row[] = [];
  for (const s of args.only as Scenario[]) {
    const r = await scenario(s, args);
    rows.push(r);
    console.log(`${s}: done`);
  }
  console.log('');
  console.log(
    '| scenario | victim up | RSS before → max (after) MB | honest sent / received / lost | honest p99 ms | attacker disconnected after | note |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(
      `| ${r.scenario} | ${r.up ? 'yes' : 'NO'} | ${r.rssBefore.toFixed(0)} → ${r.rssMax.toFixed(0)} (${r.rssAfter.toFixed(0)}) | ${r.sent} / ${r.received} / ${r.sent - r.received} | ${r.p99.toFixed(0)} | ${r.disconnectedMs} | ${r.note} |`,
    );
  }
}

(process.argv.includes('--honest-pair') ? honestPairProcess() : main()).then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
