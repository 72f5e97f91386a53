import net from 'node:net';

export interface RoundTripProxy {
  /** The proxy's URL: the target URL with host and port replaced. */
  url: string;
  /**
   * Client turns so far: each time the client sends after the server has answered, it has waited
   * for one network round trip. Pipelined statements sent back to back count once.
   */
  turns(): number;
  reset(): void;
  close(): Promise<void>;
}

/** A TCP proxy in front of Postgres that counts round trips, to measure what a request costs. */
export async function startRoundTripProxy(targetUrl: string): Promise<RoundTripProxy> {
  const target = new URL(targetUrl);
  let turns = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    // Once the server has answered, the client's next bytes start a new round trip.
    let serverSpoke = true;
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (chunk) => {
      if (serverSpoke) turns += 1;
      serverSpoke = false;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      serverSpoke = true;
      client.write(chunk);
    });
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', closeBoth).on('error', closeBoth);
    upstream.on('close', closeBoth).on('error', closeBoth);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxied = new URL(targetUrl);
  proxied.hostname = '127.0.0.1';
  proxied.port = String((server.address() as net.AddressInfo).port);
  return {
    url: proxied.toString(),
    turns: () => turns,
    reset: () => {
      turns = 0;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
