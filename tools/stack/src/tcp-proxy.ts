import { type Server, type Socket, connect, createServer } from 'node:net';

/** A TCP proxy the fault suite uses to take a dependency (PostgreSQL) away and bring it back. */
export interface TcpProxy {
  port: number;
  /** Drops every open connection and refuses new ones (ECONNREFUSED) until `resume`. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts a proxy on a free 127.0.0.1 port forwarding to `targetHost:targetPort`. `targetPort` may
 * be a function, read per connection (a test server restarted on another port behind a port the
 * services keep); a connection arriving while it returns 0 is closed.
 */
export async function startTcpProxy(targetPort: number | (() => number), targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let port = 0;
  let server: Server | null = null;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const srv = createServer((client) => {
        const to = typeof targetPort === 'function' ? targetPort() : targetPort;
        if (to === 0) {
          client.destroy();
          return;
        }
        const upstream = connect(to, targetHost);
        sockets.add(client);
        sockets.add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => {
        port = (srv.address() as { port: number }).port;
        server = srv;
        resolve();
      });
    });
  await listen();
  const pause = async () => {
    const s = server;
    server = null;
    for (const sock of sockets) sock.destroy();
    sockets.clear();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  return {
    get port() {
      return port;
    },
    pause,
    resume: async () => {
      if (!server) await listen();
    },
    close: pause,
  };
}
