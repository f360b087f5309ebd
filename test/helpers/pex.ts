// PEX nodes over loopback for tests: a Switch with a PEXReactor and a book in the test's directory.
import { join } from 'node:path';
import type { P2PConfigInput } from '../../lib/config.js';
import type { NetAddress } from '../../lib/net-address.js';
import { NodeKey } from '../../lib/node-key.js';
import { Switch } from '../../lib/switch.js';
import { AddrBook, PEXReactor, type AddrBookLogger, type PEXReactorOptions } from '../../reactors/pex/index.js';
import type { Teardown } from './teardown.js';

type TapTest = Teardown & { testdir(): string };

/** An AddrBook logger that drops every record. */
export const quietBook: AddrBookLogger = { warn() {}, info() {}, debug() {} };

/** One call an AddrBook logger got: its level, the fields object and the message ('' when none). */
export interface LoggedCall {
  level: 'warn' | 'info' | 'debug';
  obj: Record<string, unknown>;
  msg: string;
}

/** An AddrBook logger (book, bucket tables, book file) that records every call in order (`logs`); `warns()` are the warn calls. */
export function recordingBookLogger(): AddrBookLogger & { logs: LoggedCall[]; warns: () => LoggedCall[] } {
  const logs: LoggedCall[] = [];
  const push = (level: LoggedCall['level']) => (obj: object, msg?: string) => {
    logs.push({ level, obj: obj as Record<string, unknown>, msg: msg ?? '' });
  };
  return { logs, warns: () => logs.filter((l) => l.level === 'warn'), warn: push('warn'), info: push('info'), debug: push('debug') };
}

/** A started PEX node. */
export interface PexNode {
  sw: Switch;
  pex: PEXReactor;
  book: AddrBook;
  addr: NetAddress;
  id: string;
  /** IDs of the peers added, in order. */
  added: string[];
  /** Most outbound peers seen at once. */
  maxOutbound: number;
}

/**
 * Starts PEX nodes with books in one testdir (routabilityStrict off: all is
 * 127.0.0.1). `defaults` are PEX options every node gets, `start`'s own on
 * top. The teardown that stops the nodes is registered before the testdir,
 * so it runs first (books save on stop).
 */
export function pexCluster(
  t: TapTest,
  defaults: PEXReactorOptions,
): { start(opts?: { pex?: PEXReactorOptions; config?: P2PConfigInput }): Promise<PexNode> } {
  const nodes: PexNode[] = [];
  t.teardown(() => Promise.all(nodes.map((n) => n.sw.stop())));
  const dir = t.testdir();
  return {
    async start(opts = {}) {
      const nodeKey = NodeKey.generate();
      const book = new AddrBook(join(dir, `${nodeKey.id}.json`), { routabilityStrict: false, logger: quietBook });
      const pex = new PEXReactor(book, { ...defaults, ...opts.pex });
      const sw = new Switch({ nodeKey, nodeInfo: { network: 'test' }, config: { listenAddress: '127.0.0.1:0', ...opts.config } });
      sw.addReactor(pex);
      const node = { sw, pex, book, id: nodeKey.id, added: [] as string[], maxOutbound: 0 } as unknown as PexNode;
      sw.on('peer:add', (p) => {
        node.added.push(p.id);
        node.maxOutbound = Math.max(node.maxOutbound, sw.peers.numOutbound());
      });
      nodes.push(node);
      await sw.start();
      node.addr = sw.listenAddr;
      return node;
    },
  };
}
