// Subscribes once over graphql-transport-ws with the graphql-ws client and prints what happens as
// JSON lines on stdout, for the integration tests to read:
//   {"event":"connected"} {"event":"next","payload":{...}} {"event":"error","payload":...}
//   {"event":"complete"} {"event":"closed","code":4401,"reason":"..."}
// Usage: node subscribe.mjs ws://HOST/graphql/ws '{"token":"...","query":"...","variables":{...}}'
// Without "token" the connection_init payload is empty. Runs until the subscription completes or
// the socket closes; never reconnects, so a refused connection shows its close code.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, spec] = process.argv.slice(2);
if (!url || !spec) {
  console.error('usage: node subscribe.mjs WS_URL JSON_SPEC');
  process.exit(2);
}
const { token, query, variables, operationName } = JSON.parse(spec);

const print = (line) => process.stdout.write(JSON.stringify(line) + '\n');
const describe = (err) => {
  if (err && typeof err === 'object' && 'code' in err && 'reason' in err) {
    return { code: err.code, reason: err.reason };
  }
  if (Array.isArray(err)) return err;
  return { message: String(err?.message ?? err) };
};

let finished = false;
const finish = (status) => {
  if (finished) return;
  finished = true;
  // Disposing a client whose socket the server already closed rejects; that close was printed.
  Promise.resolve(client.dispose()).catch(() => {});
  // Let stdout drain before leaving.
  setTimeout(() => process.exit(status), 50);
};

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  lazy: false,
  retryAttempts: 0,
  connectionParams: token === undefined || token === null ? {} : { token },
  on: {
    connected: () => print({ event: 'connected' }),
    closed: (event) => {
      print({ event: 'closed', code: event?.code ?? null, reason: event?.reason ?? null });
      finish(0);
    },
  },
  onNonLazyError: (err) => print({ event: 'error', payload: describe(err) }),
});

client.subscribe(
  { query, variables, operationName },
  {
    next: (payload) => print({ event: 'next', payload }),
    error: (err) => print({ event: 'error', payload: describe(err) }),
    complete: () => {
      print({ event: 'complete' });
      finish(0);
    },
  },
);

process.on('SIGTERM', () => finish(0));
