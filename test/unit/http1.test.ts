import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { Http1Client, MAX_HEADER_BYTES, ResponseParser } from '../../src/k8s/http1';
import { rejected as rejectedWith } from '../helpers/caught';

const rejected = (p: Promise<unknown>) => rejectedWith(p, Error);

type Done = NonNullable<ReturnType<ResponseParser['feed']>>;

/** Feeds `text` to a fresh parser in pieces of `step` bytes; returns the answer and how many bytes were fed. */
function parse(text: string | Buffer, step = Infinity, max = 1 << 20): { answer: Done | undefined; fed: number } {
  const p = new ResponseParser(max);
  const bytes = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  for (let i = 0; i < bytes.length; i += Math.min(step, bytes.length)) {
    const answer = p.feed(bytes.subarray(i, Math.min(i + step, bytes.length)));
    if (answer) return { answer, fed: Math.min(i + step, bytes.length) };
  }
  return { answer: undefined, fed: bytes.length };
}

describe('ResponseParser', () => {
  it('reads a Content-Length body, in one piece or byte by byte', () => {
    const text = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"a":"xyz"}';
    for (const step of [Infinity, 1, 7]) {
      const { answer } = parse(text, step);
      expect(answer).toEqual({ status: 200, headers: { 'content-type': 'application/json', 'content-length': '11' }, body: Buffer.from('{"a":"xyz"}'), keepAlive: true });
    }
  });

  it('reads a chunked body with extensions and trailers, byte by byte too', () => {
    const text = 'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Trailer: 1\r\n\r\n';
    for (const step of [Infinity, 1, 3]) {
      const { answer } = parse(text, step);
      expect(answer?.status).toBe(201);
      expect(answer?.body.toString()).toBe('hello, world!!!');
      expect(answer?.keepAlive).toBe(true);
    }
  });

  it('skips 1xx answers; 204 and 304 have no body', () => {
    expect(parse('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok').answer?.body.toString()).toBe('ok');
    expect(parse('HTTP/1.1 204 No Content\r\n\r\n').answer).toMatchObject({ status: 204, keepAlive: true });
    expect(parse('HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n').answer?.body.length).toBe(0);
  });

  it('a body without length is read to the end of the connection, which cannot be kept', () => {
    const p = new ResponseParser(1 << 20);
    expect(p.feed(Buffer.from('HTTP/1.1 200 OK\r\n\r\nsome'))).toBeUndefined();
    expect(p.feed(Buffer.from(' text'))).toBeUndefined();
    expect(p.end()).toMatchObject({ status: 200, body: Buffer.from('some text'), keepAlive: false });
    // Cut short: no answer.
    const q = new ResponseParser(1 << 20);
    q.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    expect(q.end()).toBeUndefined();
  });

  it('keep-alive: not after Connection: close, not for HTTP/1.0 unless asked, not with bytes beyond the answer', () => {
    expect(parse('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').answer?.keepAlive).toBe(false);
    expect(parse('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').answer?.keepAlive).toBe(false);
    expect(parse('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n').answer?.keepAlive).toBe(true);
    expect(parse('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab').answer?.keepAlive).toBe(false);
  });

  it('joins repeated headers', () => {
    expect(parse('HTTP/1.1 200 OK\r\nWarning: a\r\nwarning: b\r\nContent-Length: 0\r\n\r\n').answer?.headers.warning).toBe('a, b');
  });

  it('refuses what is malformed (EPROTO) and what is too big (ETOOBIG)', () => {
    const code = (text: string, max?: number) => {
      try {
        parse(text, Infinity, max);
        return 'none';
      } catch (e) {
        return `${(e as NodeJS.ErrnoException).code}: ${(e as Error).message}`;
      }
    };
    expect(code('SSH-2.0-OpenSSH\r\n\r\n')).toMatch(/^EPROTO: malformed HTTP answer: status line "SSH-2.0-OpenSSH"/);
    expect(code('HTTP/1.1 200 OK\r\nno colon\r\n\r\n')).toMatch(/^EPROTO: .*header line/);
    expect(code('HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n')).toMatch(/^EPROTO: .*Content-Length/);
    expect(code('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n')).toMatch(/^EPROTO: .*Content-Length/);
    expect(code('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')).toMatch(/^EPROTO: .*chunk size/);
    expect(code('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY')).toMatch(/^EPROTO: .*CRLF/);
    expect(code(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(MAX_HEADER_BYTES)}\r\n\r\n`)).toMatch(/^EPROTO: .*headers longer/);
    expect(code('HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n', 10)).toBe('ETOOBIG: answer larger than 10 bytes');
    expect(code('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nabcdef\r\n', 10)).toMatch(/^ETOOBIG/);
    expect(code('HTTP/1.1 200 OK\r\n\r\n' + 'x'.repeat(11), 10)).toMatch(/^ETOOBIG/);
  });
});

describe('Http1Client', () => {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  afterEach(async () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  /** A TCP server that hands each request's head (and the connection's number) to `answer`. */
  async function serve(answer: (head: string, conn: number, s: Socket) => void): Promise<URL> {
    let conns = 0;
    server = createServer((s) => {
      sockets.add(s);
      const conn = ++conns;
      let buf = '';
      s.on('data', (c) => {
        buf += c.toString('latin1');
        for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
          const head = buf.slice(0, end);
          const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
          if (buf.length < end + 4 + length) return;
          buf = buf.slice(end + 4 + length);
          answer(head, conn, s);
        }
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return new URL(`http://127.0.0.1:${(server!.address() as { port: number }).port}`);
  }

  const get = (path: string, o: { background?: boolean; timeoutMs?: number } = {}) =>
    ({ method: 'GET', path, headers: { Accept: 'application/json' }, timeoutMs: o.timeoutMs ?? 2000, ...(o.background && { background: true }) });

  it('sends Host, the headers and Content-Length, and carries every request over one connection in order', async () => {
    const heads: string[] = [];
    const url = await serve((head, conn, s) => {
      heads.push(head);
      const body = `${conn}:${head.split(' ')[1]}`;
      s.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
    });
    const c = new Http1Client(url, undefined, 1 << 20);
    const answers = await Promise.all([c.request(get('/a')), c.request({ ...get('/b'), method: 'PATCH', body: Buffer.from('{}') }), c.request(get('/c'))]);
    expect(answers.map((a) => a.body.toString())).toEqual(['1:/a', '1:/b', '1:/c']);
    expect(heads[1]).toBe(`PATCH /b HTTP/1.1\r\nHost: ${url.host}\r\nAccept: application/json\r\nContent-Length: 2`);
    c.close();
  });

  it('sends background requests after the others queued with them', async () => {
    const order: string[] = [];
    const url = await serve((head, _conn, s) => {
      order.push(head.split(' ')[1]!);
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    });
    const c = new Http1Client(url, undefined, 1 << 20);
    await Promise.all([c.request(get('/first')), c.request(get('/event1', { background: true })), c.request(get('/event2', { background: true })), c.request(get('/patch'))]);
    expect(order).toEqual(['/first', '/patch', '/event1', '/event2']);
    c.close();
  });

  it('opens a new connection after Connection: close and after an answer delimited by the close', async () => {
    const url = await serve((head, conn, s) => {
      if (head.startsWith('GET /close ')) s.end('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx');
      else if (head.startsWith('GET /eof ')) s.end(`HTTP/1.1 200 OK\r\n\r\n${conn}`);
      else s.write(`HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n${conn}`);
    });
    const c = new Http1Client(url, undefined, 1 << 20);
    expect((await c.request(get('/a'))).body.toString()).toBe('1');
    await c.request(get('/close'));
    expect((await c.request(get('/eof'))).body.toString()).toBe('2');
    expect((await c.request(get('/b'))).body.toString()).toBe('3');
    c.close();
  });

  it('an answer cut short is ECONNRESET; a request that times out closes the connection; a queued one times out too', async () => {
    const url = await serve((head, _conn, s) => {
      if (head.startsWith('GET /cut ')) s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc');
      // /slow: never answered
    });
    const c = new Http1Client(url, undefined, 1 << 20);
    const cut = await rejected(c.request(get('/cut')));
    expect([(cut as NodeJS.ErrnoException).code, cut.message]).toEqual(['ECONNRESET', 'connection closed during the answer']);
    const slow = c.request(get('/slow', { timeoutMs: 200 }));
    const queued = c.request(get('/queued', { timeoutMs: 100 }));
    const [e1, e2] = await Promise.all([rejected(slow), rejected(queued)]);
    expect([(e1 as NodeJS.ErrnoException).code, e1.message]).toEqual(['ETIMEDOUT', 'no answer within 200 ms']);
    expect((e2 as NodeJS.ErrnoException).code).toBe('ETIMEDOUT');
    c.close();
  });

  it('a refused connection is ECONNREFUSED; garbage is EPROTO', async () => {
    const url = await serve((_head, _conn, s) => s.write('garbage\r\n\r\n'));
    const c = new Http1Client(url, undefined, 1 << 20);
    expect(((await rejected(c.request(get('/x')))) as NodeJS.ErrnoException).code).toBe('EPROTO');
    c.close();
    const port = url.port;
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    const d = new Http1Client(new URL(`http://127.0.0.1:${port}`), undefined, 1 << 20);
    expect(((await rejected(d.request(get('/x')))) as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });
});
