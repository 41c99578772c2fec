/**
 * HTTP/1.1 over one TLS (or TCP) connection per process, for the Kubernetes client. Not node:http/https: their
 * modules (node:_http_*, the agent, IncomingMessage's streams) cost a call in Kubernetes mode about 10 ms of CPU and
 * 1.5 MB of memory, more than the few small JSON requests of a CNI call need (see the README's "Performance").
 *
 * One connection, kept alive, carries every request in turn: a call makes a handful of small requests, and each new
 * connection costs a TLS handshake on both ends (Node's agent opened one per request in flight: three for one
 * secondary network, six for four). Requests wait in a queue, `background` ones (events) behind the others, and
 * each request's time limit counts from when it was queued, so a queued event gives up on time too. A request that
 * times out closes the connection (the answer may still come); the next one opens a new connection, resuming the TLS
 * session when the server gave one.
 *
 * Errors keep Node's codes (ECONNREFUSED, ECONNRESET, the TLS verification codes) for the caller's retry decisions;
 * a malformed answer is EPROTO, one over the size limit ETOOBIG, a time limit ETIMEDOUT.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';

export interface HttpRequest {
  method: string;
  /** Path and query, as sent. */
  path: string;
  /** Header names as sent; Host and Content-Length are added. */
  headers: Record<string, string>;
  body?: Buffer;
  timeoutMs: number;
  /** Sent after every request that is not (events: nothing waits for them). */
  background?: boolean;
}

export interface HttpAnswer {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

export const MAX_HEADER_BYTES = 64 * 1024;

function failure(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

const malformed = (what: string): NodeJS.ErrnoException => failure('EPROTO', `malformed HTTP answer: ${what}`);

/**
 * Reads one HTTP/1.1 answer from the bytes of a connection: status line and headers, then a body delimited by
 * Content-Length, chunked transfer coding or the connection's end; 1xx answers are skipped, 204 and 304 have no body.
 */
export class ResponseParser {
  private buf: Buffer = Buffer.alloc(0);
  private head: { status: number; headers: Record<string, string>; keepAlive: boolean } | undefined;
  private framing: 'length' | 'chunked' | 'close' = 'length';
  private remaining = 0;
  private readonly parts: Buffer[] = [];
  private size = 0;
  // Chunked: reading a size line, a chunk's data, the CRLF after it, or the trailer.
  private chunkState: 'size' | 'data' | 'crlf' | 'trailer' = 'size';

  constructor(private readonly maxBodyBytes: number) {}

  /** Feeds bytes; returns the answer once complete (then `keepAlive` says whether the connection can carry another). */
  feed(chunk: Buffer): (HttpAnswer & { keepAlive: boolean }) | undefined {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (!this.head) {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (this.buf.length > MAX_HEADER_BYTES) throw malformed(`headers longer than ${MAX_HEADER_BYTES} bytes`);
          return undefined;
        }
        if (end > MAX_HEADER_BYTES) throw malformed(`headers longer than ${MAX_HEADER_BYTES} bytes`);
        const text = this.buf.toString('latin1', 0, end);
        this.buf = this.buf.subarray(end + 4);
        if (!this.readHead(text)) continue; // 1xx: the real answer follows
      }
      const done = this.readBody();
      if (done) return done;
      return undefined;
    }
  }

  /** The connection ended: completes an answer delimited by it, else undefined (the answer was cut short). */
  end(): (HttpAnswer & { keepAlive: boolean }) | undefined {
    if (this.head && this.framing === 'close') return this.finish(false);
    return undefined;
  }

  private readHead(text: string): boolean {
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0]!);
    if (!m) throw malformed(`status line ${JSON.stringify(lines[0]!.slice(0, 80))}`);
    const status = Number(m[2]);
    if (status >= 100 && status < 200) return false;
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw malformed(`header line ${JSON.stringify(line.slice(0, 80))}`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const connection = (headers.connection ?? '').toLowerCase();
    let keepAlive = m[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    const te = headers['transfer-encoding'];
    if (status === 204 || status === 304) {
      this.framing = 'length';
      this.remaining = 0;
    } else if (te !== undefined) {
      // Chunked must come last; any other coding is read to the connection's end (RFC 9112 6.3).
      if (/(^|,)\s*chunked\s*$/i.test(te)) this.framing = 'chunked';
      else {
        this.framing = 'close';
        keepAlive = false;
      }
    } else if (headers['content-length'] !== undefined) {
      const lengths = new Set(headers['content-length'].split(',').map((s) => s.trim()));
      const [length] = lengths;
      if (lengths.size !== 1 || !/^\d{1,15}$/.test(length!)) throw malformed(`Content-Length ${JSON.stringify(headers['content-length'])}`);
      this.framing = 'length';
      this.remaining = Number(length);
      if (this.remaining > this.maxBodyBytes) throw tooBig(this.maxBodyBytes);
    } else {
      this.framing = 'close';
      keepAlive = false;
    }
    this.head = { status, headers, keepAlive };
    return true;
  }

  private take(n: number): void {
    this.size += n;
    if (this.size > this.maxBodyBytes) throw tooBig(this.maxBodyBytes);
    this.parts.push(this.buf.subarray(0, n));
    this.buf = this.buf.subarray(n);
  }

  private readBody(): (HttpAnswer & { keepAlive: boolean }) | undefined {
    if (this.framing === 'length') {
      const n = Math.min(this.remaining, this.buf.length);
      if (n > 0) this.take(n);
      this.remaining -= n;
      return this.remaining === 0 ? this.finish(this.head!.keepAlive) : undefined;
    }
    if (this.framing === 'close') {
      if (this.buf.length > 0) this.take(this.buf.length);
      return undefined;
    }
    for (;;) {
      if (this.chunkState === 'data') {
        const n = Math.min(this.remaining, this.buf.length);
        if (n > 0) this.take(n);
        this.remaining -= n;
        if (this.remaining > 0) return undefined;
        this.chunkState = 'crlf';
      }
      if (this.chunkState === 'crlf') {
        if (this.buf.length < 2) return undefined;
        if (this.buf[0] !== 13 || this.buf[1] !== 10) throw malformed('chunk not followed by CRLF');
        this.buf = this.buf.subarray(2);
        this.chunkState = 'size';
      }
      const eol = this.buf.indexOf('\r\n');
      if (eol < 0) {
        if (this.buf.length > 4096) throw malformed('chunk size line too long');
        return undefined;
      }
      const line = this.buf.toString('latin1', 0, eol);
      this.buf = this.buf.subarray(eol + 2);
      if (this.chunkState === 'trailer') {
        // Trailer fields are not used; an empty line ends the answer.
        if (line === '') return this.finish(this.head!.keepAlive);
        continue;
      }
      const hex = line.split(';', 1)[0]!.trim();
      if (!/^[0-9a-fA-F]{1,8}$/.test(hex)) throw malformed(`chunk size ${JSON.stringify(line.slice(0, 40))}`);
      this.remaining = parseInt(hex, 16);
      if (this.size + this.remaining > this.maxBodyBytes) throw tooBig(this.maxBodyBytes);
      this.chunkState = this.remaining === 0 ? 'trailer' : 'data';
    }
  }

  private finish(keepAlive: boolean): HttpAnswer & { keepAlive: boolean } {
    const { status, headers } = this.head!;
    // Bytes after a complete answer were never asked for: the connection cannot carry another request.
    return { status, headers, body: Buffer.concat(this.parts), keepAlive: keepAlive && this.buf.length === 0 };
  }
}

function tooBig(max: number): NodeJS.ErrnoException {
  return failure('ETOOBIG', `answer larger than ${max} bytes`);
}

interface Pending {
  req: HttpRequest;
  resolve(a: HttpAnswer): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
  settled: boolean;
}

/** The requests of one process to one server, over one kept-alive connection at a time. */
export class Http1Client {
  private readonly queue: Pending[] = [];
  private socket: Socket | TLSSocket | undefined;
  private current: Pending | undefined;
  private parser: ResponseParser | undefined;
  private session: Buffer | undefined;

  /** `tls` undefined means plain TCP (an http:// server). */
  constructor(
    private readonly url: URL,
    private readonly tls: ConnectionOptions | undefined,
    private readonly maxBodyBytes: number,
  ) {}

  request(req: HttpRequest): Promise<HttpAnswer> {
    return new Promise<HttpAnswer>((resolve, reject) => {
      const p: Pending = { req, resolve, reject, settled: false, timer: undefined as unknown as NodeJS.Timeout };
      p.timer = setTimeout(() => {
        const within = req.timeoutMs < 1000 ? `${req.timeoutMs} ms` : `${(req.timeoutMs / 1000).toFixed(1)} s`;
        const e = failure('ETIMEDOUT', `no answer within ${within}`);
        if (this.current === p) this.drop(e);
        else {
          this.queue.splice(this.queue.indexOf(p), 1);
          this.settle(p, e);
        }
      }, req.timeoutMs);
      // Background requests go last; the others keep their order ahead of them.
      const at = req.background ? this.queue.length : this.queue.findIndex((q) => q.req.background);
      this.queue.splice(at < 0 ? this.queue.length : at, 0, p);
      this.next();
    });
  }

  /** Closes the connection; queued requests fail. */
  close(): void {
    for (const p of this.queue.splice(0)) this.settle(p, failure('ECONNABORTED', 'client closed'));
    this.drop(failure('ECONNABORTED', 'client closed'));
  }

  private settle(p: Pending, outcome: HttpAnswer | Error): void {
    if (p.settled) return;
    p.settled = true;
    clearTimeout(p.timer);
    if (outcome instanceof Error) p.reject(outcome);
    else p.resolve(outcome);
  }

  /** Ends the connection, failing the request in flight with `e`. */
  private drop(e: Error): void {
    const s = this.socket;
    this.socket = undefined;
    this.parser = undefined;
    const p = this.current;
    this.current = undefined;
    if (s) {
      s.removeAllListeners('data');
      s.removeAllListeners('end');
      s.removeAllListeners('close');
      s.on('error', () => {});
      s.destroy();
    }
    if (p) this.settle(p, e);
    this.next();
  }

  private next(): void {
    if (this.current || this.queue.length === 0) {
      if (!this.current) this.socket?.unref();
      return;
    }
    const p = this.queue.shift()!;
    this.current = p;
    this.parser = new ResponseParser(this.maxBodyBytes);
    const s = this.socket ?? this.open();
    s.ref();
    const { method, path, headers, body } = p.req;
    let head = `${method} ${path} HTTP/1.1\r\nHost: ${this.url.host}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    if (body) head += `Content-Length: ${body.length}\r\n`;
    head += '\r\n';
    s.write(body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : head);
  }

  private open(): Socket | TLSSocket {
    const host = this.url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(this.url.port || (this.tls ? 443 : 80));
    const s = this.tls
      ? tlsConnect({ ...this.tls, host, port, ...(this.session && { session: this.session }) })
      : netConnect({ host, port });
    this.socket = s;
    if (this.tls) (s as TLSSocket).on('session', (session: Buffer) => (this.session = session));
    s.on('data', (chunk: Buffer) => {
      if (s !== this.socket) return;
      if (!this.parser) {
        // Bytes nobody asked for: the connection is out of step.
        this.drop(malformed('data without a request'));
        return;
      }
      let answer;
      try {
        answer = this.parser.feed(chunk);
      } catch (e) {
        this.drop(e as Error);
        return;
      }
      if (answer) this.complete(answer);
    });
    s.on('end', () => this.ended(s));
    s.on('close', () => this.ended(s));
    s.on('error', (e) => {
      if (s === this.socket) this.drop(e);
    });
    return s;
  }

  private complete(answer: HttpAnswer & { keepAlive: boolean }): void {
    const p = this.current!;
    const { keepAlive, ...rest } = answer;
    this.current = undefined;
    this.parser = undefined;
    if (!keepAlive) {
      const s = this.socket!;
      this.socket = undefined;
      s.on('error', () => {});
      s.destroy();
    }
    this.settle(p, rest);
    this.next();
  }

  /** The server closed the connection: an answer delimited by that completes, one in flight is cut short. */
  private ended(s: Socket | TLSSocket): void {
    if (s !== this.socket) return;
    const answer = this.parser?.end();
    if (answer && this.current) {
      this.complete(answer);
      return;
    }
    this.drop(failure('ECONNRESET', this.current ? 'connection closed during the answer' : 'connection closed'));
  }
}
