/**
 * Entry point of a benchmark peer process. Started by the driver as
 * `node --import tsx benchmarks/peer-process.ts '<RoleSpec JSON>'` with an
 * IPC channel (see `ipc.ts`); runs the role and reports any failure to the
 * parent as an `error` message before exiting with status 1.
 *
 * @module
 */
import { childIpc, type RoleSpec } from './ipc.js';
import { streamClient, streamServer } from './stream-roles.js';
import { fanoutHub, fanoutPeers, scaleHub, scalePeers } from './switch-roles.js';
import { requestClient, requestServer } from './request-roles.js';

const ipc = childIpc();

/** Run the role named in `spec`. */
function run(spec: RoleSpec): Promise<void> {
  switch (spec.role) {
    case 'stream-server':
      return streamServer(spec, ipc);
    case 'stream-client':
      return streamClient(spec, ipc);
    case 'fanout-hub':
      return fanoutHub(spec, ipc);
    case 'fanout-peers':
      return fanoutPeers(spec, ipc);
    case 'scale-hub':
      return scaleHub(spec, ipc);
    case 'scale-peers':
      return scalePeers(spec, ipc);
    case 'request-server':
      return requestServer(spec, ipc);
    case 'request-client':
      return requestClient(spec, ipc);
  }
}

const fail = (err: unknown) => ipc.exit({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }, 1);
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
run(JSON.parse(process.argv[2] ?? '{}') as RoleSpec).catch(fail);
