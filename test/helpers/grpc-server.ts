/**
 * A tiny gRPC server on a unix socket for tests: node:http2, the 5-byte message prefix, status in trailers. Each
 * method is a handler from request bytes to a reply; the reply can be an error status, a delay, a raw body or a
 * dropped stream, so clients can be tested against the faults a real server produces.
 *
 *   const server = await startGrpcServer(socketPath, { '/v1.PodResourcesLister/List': () => ({ message }) });
 *   ...
 *   await server.close();
 */
import * as http2 from 'node:http2';
import { rmSync } from 'node:fs';

export interface GrpcReply {
  /** The answer message (protobuf bytes); sent with its 5-byte prefix. */
  message?: Uint8Array;
  /** grpc-status to send; 0 when absent. */
  status?: number;
  statusMessage?: string;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Send this as the whole body instead of `message` (for malformed framing). */
  rawBody?: Uint8Array;
  /** Send the status in the response headers with no body (gRPC's "trailers-only" answer). */
  trailersOnly?: boolean;
  /** Reset the stream without answering. */
  reset?: boolean;
  /** HTTP status to send instead of 200 (then no gRPC status is sent). */
  httpStatus?: number;
}

export type GrpcHandler = (request: Buffer, headers: http2.IncomingHttpHeaders) => GrpcReply | Promise<GrpcReply>;

export interface RecordedCall {
  path: string;
  request: Buffer;
  headers: http2.IncomingHttpHeaders;
}

export interface GrpcTestServer {
  socketPath: string;
  calls: RecordedCall[];
  close(): Promise<void>;
}

function unframeRequest(body: Buffer): Buffer {
  if (body.length < 5) return Buffer.alloc(0);
  return body.subarray(5, 5 + body.readUInt32BE(1));
}

export async function startGrpcServer(socketPath: string, handlers: Record<string, GrpcHandler>): Promise<GrpcTestServer> {
  const calls: RecordedCall[] = [];
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => {}); // the client may go away (deadline tests)
    stream.on('end', async () => {
      const path = String(headers[':path']);
      const request = unframeRequest(Buffer.concat(chunks));
      calls.push({ path, request, headers });
      const handler = handlers[path];
      const reply: GrpcReply = handler ? await handler(request, headers) : { status: 12, statusMessage: `unknown method ${path}` };
      if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
      if (stream.destroyed || stream.closed) return;
      if (reply.reset) {
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        return;
      }
      if (reply.httpStatus) {
        stream.respond({ ':status': reply.httpStatus, 'content-type': 'text/plain' });
        stream.end('not grpc');
        return;
      }
      const status = {
        'grpc-status': String(reply.status ?? 0),
        ...(reply.statusMessage !== undefined && { 'grpc-message': encodeURIComponent(reply.statusMessage) }),
      };
      if (reply.trailersOnly) {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...status }, { endStream: true });
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers(status));
      let body: Uint8Array = Buffer.alloc(0);
      if (reply.rawBody) body = reply.rawBody;
      else if (reply.message) {
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(reply.message.length, 1);
        body = Buffer.concat([prefix, reply.message]);
      }
      stream.end(body);
    });
  });
  rmSync(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  return {
    socketPath,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => {
          rmSync(socketPath, { force: true });
          resolve();
        });
      }),
  };
}
