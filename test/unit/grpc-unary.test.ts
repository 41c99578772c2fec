import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpcError, GrpcStatus, unaryCall } from '../../src/grpc/unary';
import { decodeMessage, encodeMessage } from '../../src/grpc/wire';
import { rejected } from '../helpers/caught';
import { startGrpcServer, type GrpcReply, type GrpcTestServer } from '../helpers/grpc-server';

let dir = '';
let server: GrpcTestServer | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'multus-ts-grpc-'));
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const PATH = '/test.Echo/Say';
const call = (socketPath: string, deadlineMs = 5000) =>
  unaryCall({ socketPath, service: 'test.Echo', method: 'Say', request: encodeMessage([[1, 'hello']]), deadlineMs });

async function serve(reply: (req: Buffer) => GrpcReply): Promise<string> {
  server = await startGrpcServer(join(dir, 'grpc.sock'), { [PATH]: reply });
  return server.socketPath;
}

const failure = (p: Promise<unknown>): Promise<GrpcError> => rejected(p, GrpcError);

describe('unary gRPC over a unix socket', () => {
  it('sends the framed request to /service/method and returns the answer message', async () => {
    const socket = await serve((req) => ({ message: encodeMessage([[1, `${decodeMessage(req).string(1)} back`]]) }));
    const answer = await call(socket);
    expect(decodeMessage(answer).string(1)).toBe('hello back');
    const sent = server!.calls[0]!;
    expect(sent.path).toBe(PATH);
    expect(sent.headers['content-type']).toBe('application/grpc');
    expect(sent.headers.te).toBe('trailers');
    expect(sent.headers['grpc-timeout']).toBe('5000m');
  });

  it('returns an empty message as an empty buffer', async () => {
    const socket = await serve(() => ({ message: Buffer.alloc(0) }));
    expect((await call(socket)).length).toBe(0);
  });

  it('maps grpc-status and the percent-encoded grpc-message of the trailers to an error', async () => {
    const socket = await serve(() => ({ status: GrpcStatus.PermissionDenied, statusMessage: 'pods "p" is 100% forbidden' }));
    const err = await failure(call(socket));
    expect(err.code).toBe(GrpcStatus.PermissionDenied);
    expect(err.details).toBe('pods "p" is 100% forbidden');
    expect(err.message).toBe('PERMISSION_DENIED: pods "p" is 100% forbidden');
  });

  it('reads the status of a trailers-only answer from the headers', async () => {
    const socket = await serve(() => ({ status: GrpcStatus.Unimplemented, statusMessage: 'unknown service', trailersOnly: true }));
    expect((await failure(call(socket))).code).toBe(GrpcStatus.Unimplemented);
  });

  it('reports a missing socket as UNAVAILABLE with the errno code', async () => {
    const err = await failure(call(join(dir, 'absent.sock')));
    expect(err.code).toBe(GrpcStatus.Unavailable);
    expect(err.systemCode).toBe('ENOENT');
    expect(err.message).toContain('absent.sock');
  });

  it('stops waiting at the deadline with DEADLINE_EXCEEDED', async () => {
    const socket = await serve(() => ({ message: Buffer.alloc(0), delayMs: 2000 }));
    const err = await failure(call(socket, 200));
    expect(err.code).toBe(GrpcStatus.DeadlineExceeded);
    expect(err.message).toContain('within 0.2 s');
  });

  it('refuses malformed answers: a cut message, a compressed one, two messages, a non-gRPC HTTP answer, a reset', async () => {
    const cut = Buffer.from([0, 0, 0, 0, 9, 1, 2]);
    const compressed = Buffer.from([1, 0, 0, 0, 0]);
    const two = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    for (const [reply, code, text] of [
      [{ rawBody: cut }, GrpcStatus.Internal, 'ends inside a message'],
      [{ rawBody: compressed }, GrpcStatus.Internal, 'compressed'],
      [{ rawBody: two }, GrpcStatus.Internal, 'got 2 messages'],
      [{ httpStatus: 503 }, GrpcStatus.Unavailable, 'HTTP 503'],
      [{ reset: true }, GrpcStatus.Unavailable, ''],
    ] as const) {
      const socket = await serve(() => reply);
      const err = await failure(call(socket));
      expect(err.code, text).toBe(code);
      expect(err.message).toContain(text);
      await server!.close();
      server = undefined;
    }
  });

  it('refuses an answer larger than the limit', async () => {
    const socket = await serve(() => ({ message: Buffer.alloc(2000, 1) }));
    const err = await failure(unaryCall({ socketPath: socket, service: 'test.Echo', method: 'Say', request: Buffer.alloc(0), deadlineMs: 5000, maxResponseBytes: 1000 }));
    expect(err.code).toBe(GrpcStatus.ResourceExhausted);
  });
});
