import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A request the scripted server received. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** How to answer one request: a status, headers and a body, or a raw socket action. */
export type Reply =
  | { status: number; headers?: Record<string, string>; body?: string | object }
  | { action: 'hang' | 'reset' | 'truncate'; partial?: string };

/** A loopback HTTP server answering each request with what a route function returns. */
export interface ScriptedServer {
  url: string;
  requests: SeenRequest[];
  /** Sockets currently open on the server side. */
  openSockets(): number;
  /** Connections accepted since the start. */
  connectionsAccepted(): number;
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1 (port 0). `route` decides each answer. */
export async function startScriptedServer(route: (req: SeenRequest) => Reply): Promise<ScriptedServer> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(seen);
      answer(res, route(seen));
    });
  });
  let accepted = 0;
  server.on('connection', (s) => {
    accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    openSockets: () => sockets.size,
    connectionsAccepted: () => accepted,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function answer(res: ServerResponse, reply: Reply): void {
  if ('action' in reply) {
    if (reply.action === 'hang') return; // never answers; the client must abort
    if (reply.action === 'reset') {
      res.socket?.destroy();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
    res.write(reply.partial ?? '{"id":"x","cho');
    setImmediate(() => res.socket?.destroy());
    return;
  }
  const body = typeof reply.body === 'string' ? reply.body : reply.body === undefined ? '' : JSON.stringify(reply.body);
  const headers = { 'content-type': 'application/json', ...reply.headers };
  res.writeHead(reply.status, headers);
  res.end(body);
}

/** Waits until `predicate` holds, polling real time in small steps (bounded), for socket teardown checks. */
export async function eventually(predicate: () => boolean, tries = 200): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return predicate();
}
