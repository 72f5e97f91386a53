import net from 'node:net';

export interface RoundTripProxy {
  /** The proxy's URL: the target URL with host and port replaced. */
  url: string;
  /**
   * Client turns so far: each time the client sends after the server has answered, it has waited
   * for one network round trip. Pipelined statements sent back to back count once.
   */
  turns(): number;
  /** The SQL text of every statement clients sent, in order (simple and extended protocol). */
  statements(): string[];
  /** The turn in which each statement of `statements()` was sent. */
  statementTurns(): number[];
  /**
   * The statements of each turn, whitespace collapsed, leaving out every turn that carried a
   * control-plane statement (a key lookup goes out with its checkout's session reset): what a
   * request sent on its tenant's behalf, one list per round trip.
   */
  tenantTurns(): string[][];
  /**
   * The names of named prepared statements clients parsed, in order (unnamed ones, which live
   * until the next Parse on their connection, are left out).
   */
  preparedNames(): string[];
  reset(): void;
  close(): Promise<void>;
}

/**
 * Reads the statements a client runs out of its byte stream: a Query message ('Q') carries its
 * text; an extended-protocol query runs at its Bind message ('B'), which names the statement that
 * a Parse message ('P') prepared earlier, in this round trip or, for a named one, in any before.
 * The first message of a connection is the startup packet, which has no type byte.
 */
function statementReader(onStatement: (text: string, name: string) => void, onParse: (name: string) => void) {
  let buffer = Buffer.alloc(0);
  let started = false;
  const parsed = new Map<string, string>();
  return (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      if (!started) {
        if (buffer.length < 4) return;
        const length = buffer.readInt32BE(0);
        if (buffer.length < length) return;
        buffer = buffer.subarray(length);
        started = true;
        continue;
      }
      if (buffer.length < 5) return;
      const type = String.fromCharCode(buffer[0]!);
      const length = buffer.readInt32BE(1);
      if (buffer.length < 1 + length) return;
      const body = buffer.subarray(5, 1 + length);
      if (type === 'Q') onStatement(body.toString('utf8', 0, body.indexOf(0)), '');
      if (type === 'P') {
        const nameEnd = body.indexOf(0);
        const name = body.toString('utf8', 0, nameEnd);
        parsed.set(name, body.toString('utf8', nameEnd + 1, body.indexOf(0, nameEnd + 1)));
        onParse(name);
      }
      if (type === 'B') {
        const portalEnd = body.indexOf(0);
        const name = body.toString('utf8', portalEnd + 1, body.indexOf(0, portalEnd + 1));
        onStatement(parsed.get(name) ?? '', name);
      }
      buffer = buffer.subarray(1 + length);
    }
  };
}

/**
 * A TCP proxy in front of Postgres that counts round trips and records statements. `latencyMs`
 * delays every answer of the server, as a network would: writes that a client makes without
 * waiting for an answer then always fall into one turn, however the scheduler interleaves them.
 */
export async function startRoundTripProxy(
  targetUrl: string,
  options: { latencyMs?: number } = {},
): Promise<RoundTripProxy> {
  const latencyMs = options.latencyMs ?? 0;
  const target = new URL(targetUrl);
  let turns = 0;
  let statements: { text: string; name: string; turn: number }[] = [];
  let preparedNames: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    // Once the server has answered, the client's next bytes start a new round trip.
    let serverSpoke = true;
    const read = statementReader(
      (text, name) => statements.push({ text, name, turn: turns }),
      (name) => {
        if (name !== '') preparedNames.push(name);
      },
    );
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (chunk) => {
      if (serverSpoke) turns += 1;
      serverSpoke = false;
      read(chunk);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      const deliver = () => {
        serverSpoke = true;
        client.write(chunk);
      };
      if (latencyMs > 0) setTimeout(deliver, latencyMs);
      else deliver();
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
    statements: () => statements.map((statement) => statement.text),
    statementTurns: () => statements.map((statement) => statement.turn),
    tenantTurns: () => {
      const controlTurns = new Set(statements.filter((statement) => statement.text.includes('control.')).map((statement) => statement.turn));
      const byTurn = new Map<number, string[]>();
      for (const { text, turn } of statements) {
        if (!controlTurns.has(turn)) byTurn.set(turn, [...(byTurn.get(turn) ?? []), text.replace(/\s+/g, ' ')]);
      }
      return [...byTurn.values()];
    },
    preparedNames: () => [...preparedNames],
    reset: () => {
      turns = 0;
      statements = [];
      preparedNames = [];
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
