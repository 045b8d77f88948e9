import net from 'node:net';

/**
 * A minimal HTTP/1.1 client for load generation: keep-alive sockets, one request in flight per
 * socket, each request a Buffer encoded before the clock starts, each response read by its
 * status line and `content-length`. WeChat's servers are not on the machine under test in real
 * life, so the load generator should take as little of its CPU as it can: undici (a general
 * client: request objects, header parsing, body streams) cost ≈ 0.12 ms per notification on
 * this 2-core machine, about a tenth of the whole pipeline's cost per event.
 *
 * Anything it does not understand (no content-length, chunked, a closed socket) fails the
 * request with an error; it never guesses.
 */
export interface RawResponse {
  status: number;
  body: string;
}

/** `POST path` with `body` as a complete request, encoded once. */
export function encodePost(host: string, path: string, contentType: string, body: string): Buffer {
  const payload = Buffer.from(body, 'utf8');
  const head = `POST ${path} HTTP/1.1\r\nhost: ${host}\r\ncontent-type: ${contentType}\r\ncontent-length: ${payload.length}\r\nconnection: keep-alive\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), payload]);
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** One keep-alive connection; requests on it run one after another. */
class RawConnection {
  readonly #socket: net.Socket;
  #buffered: Buffer = Buffer.alloc(0);
  #pending: { resolve: (r: RawResponse) => void; reject: (e: Error) => void } | undefined;
  #error: Error | undefined;
  readonly #ready: Promise<void>;

  constructor(port: number, host: string) {
    this.#socket = net.connect({ port, host, noDelay: true });
    this.#ready = new Promise((resolve, reject) => {
      this.#socket.once('connect', () => resolve());
      this.#socket.once('error', reject);
    });
    // a connection that fails before its first request must not be an unhandled rejection:
    // the error is kept (#error) and thrown by request()
    this.#ready.catch(() => undefined);
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    const fail = (err: Error) => {
      this.#error ??= err;
      this.#pending?.reject(err);
      this.#pending = undefined;
    };
    this.#socket.on('error', fail);
    this.#socket.on('close', () => fail(new Error('connection closed by the server')));
  }

  async request(encoded: Buffer): Promise<RawResponse> {
    await this.#ready;
    if (this.#error) throw this.#error;
    if (this.#pending) throw new Error('one request at a time per connection');
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#socket.write(encoded);
    });
  }

  #onData(chunk: Buffer): void {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    const end = this.#buffered.indexOf(HEADER_END);
    if (end < 0) return;
    const head = this.#buffered.toString('latin1', 0, end);
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1]);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1];
    const pending = this.#pending;
    if (!pending || !Number.isInteger(status) || length === undefined) {
      const err = new Error(`unexpected response (${pending ? 'no status or content-length' : 'none asked for'}): ${head.slice(0, 200)}`);
      this.#socket.destroy(err);
      return;
    }
    const bodyStart = end + HEADER_END.length;
    if (this.#buffered.length < bodyStart + Number(length)) return; // the rest of the body is on its way
    const body = this.#buffered.toString('utf8', bodyStart, bodyStart + Number(length));
    this.#buffered = this.#buffered.subarray(bodyStart + Number(length));
    this.#pending = undefined;
    pending.resolve({ status, body });
  }

  close(): void {
    this.#socket.end();
  }
}

/** `connections` keep-alive connections; `request` takes a free one (callers keep ≤ that many in flight). */
export class RawHttpPool {
  readonly #free: RawConnection[];
  readonly #all: RawConnection[];

  constructor(port: number, connections: number, host = '127.0.0.1') {
    this.#all = Array.from({ length: connections }, () => new RawConnection(port, host));
    this.#free = [...this.#all];
  }

  async request(encoded: Buffer): Promise<RawResponse> {
    const connection = this.#free.pop();
    if (!connection) throw new Error('more requests in flight than connections');
    try {
      return await connection.request(encoded);
    } finally {
      this.#free.push(connection);
    }
  }

  close(): void {
    for (const connection of this.#all) connection.close();
  }
}
