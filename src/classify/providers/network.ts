/**
 * Failures without an HTTP response: Node and undici socket/DNS errors (ECONNRESET, ECONNREFUSED,
 * ETIMEDOUT, EPIPE, ENOTFOUND, EAI_AGAIN, UND_ERR_*), fetch's `TypeError: fetch failed` whose `cause`
 * chain holds the real code, "socket hang up", `AbortError` (cancelled) and `TimeoutError` from
 * `AbortSignal.timeout()` (timeout).
 */
import type { ErrorKind } from '../kinds.js';
import type { Verdict } from '../failure.js';
import { isRecord } from '../json.js';

const BY_CODE: ReadonlyMap<string, ErrorKind> = new Map<string, ErrorKind>([
  ['ETIMEDOUT', 'timeout'],
  ['ESOCKETTIMEDOUT', 'timeout'],
  ['UND_ERR_CONNECT_TIMEOUT', 'timeout'],
  ['UND_ERR_HEADERS_TIMEOUT', 'timeout'],
  ['UND_ERR_BODY_TIMEOUT', 'timeout'],
  ['ECONNRESET', 'network'],
  ['ECONNREFUSED', 'network'],
  ['ECONNABORTED', 'network'],
  ['EPIPE', 'network'],
  ['ENOTFOUND', 'network'],
  ['EAI_AGAIN', 'network'],
  ['ENETUNREACH', 'network'],
  ['ENETDOWN', 'network'],
  ['EHOSTUNREACH', 'network'],
  ['EHOSTDOWN', 'network'],
  ['EADDRNOTAVAIL', 'network'],
  ['ERR_STREAM_PREMATURE_CLOSE', 'network'],
  ['UND_ERR_SOCKET', 'network'],
  ['UND_ERR_CLOSED', 'network'],
  ['UND_ERR_DESTROYED', 'network'],
  ['UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'network'],
  ['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'network'],
  ['UND_ERR_RESPONSE_EXCEEDED_MAX_SIZE', 'network'],
  ['UND_ERR_ABORTED', 'cancelled'],
  ['ABORT_ERR', 'cancelled'],
]);

/** Messages that mean a broken connection even without a code. */
const NETWORK_MESSAGES = /^(?:fetch failed|socket hang up|terminated|other side closed|network error|connection error\.?|failed to fetch)$/i;

/** Cause chains are short; the cap guards against cycles and hostile objects. */
const MAX_CHAIN = 16;

/** One link of an error's cause chain. */
interface Link {
  name: string | undefined;
  code: string | undefined;
  message: string | undefined;
}

/** Recognises a thrown network, timeout or abort error (walking `cause` and `AggregateError.errors`). */
export function classifyNetworkError(error: unknown): Verdict | undefined {
  const chain = causeChain(error);
  const top = chain[0];
  if (!top) return undefined;
  const message = describe(chain);
  const timeout = chain.find((l) => l.name === 'TimeoutError');
  if (timeout) return { kind: 'timeout', code: timeout.code ?? 'TimeoutError', message };
  if (top.name === 'AbortError') return { kind: 'cancelled', code: top.code ?? 'AbortError', message };
  for (const link of chain) {
    const kind = link.code === undefined ? undefined : BY_CODE.get(link.code);
    if (kind) return { kind, code: link.code, message };
  }
  if (chain.some((l) => l.message !== undefined && NETWORK_MESSAGES.test(l.message.trim()))) {
    return { kind: 'network', message };
  }
  return undefined;
}

/** The error and its causes, breadth-first over `cause` and `errors`, without repeats. */
function causeChain(error: unknown): Link[] {
  const links: Link[] = [];
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0 && links.length < MAX_CHAIN) {
    const node = queue.shift();
    if (!isErrorLike(node) || seen.has(node)) continue;
    seen.add(node);
    links.push(toLink(node));
    queue.push(read(node, 'cause'));
    const errors = read(node, 'errors');
    if (Array.isArray(errors)) queue.push(...errors.slice(0, 4));
  }
  return links;
}

function isErrorLike(value: unknown): value is object {
  return value instanceof Error || isRecord(value);
}

/** Property read that survives throwing getters. */
function read(obj: object, key: string): unknown {
  try {
    return (obj as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function toLink(node: object): Link {
  const name = read(node, 'name');
  const code = read(node, 'code');
  const message = read(node, 'message');
  return {
    name: typeof name === 'string' ? name : undefined,
    code: typeof code === 'string' ? code : undefined,
    message: typeof message === 'string' ? message : undefined,
  };
}

/** "fetch failed: connect ECONNREFUSED 127.0.0.1:8080": the outer message plus the innermost distinct one. */
function describe(chain: Link[]): string {
  const messages = chain.map((l) => l.message).filter((m): m is string => typeof m === 'string' && m.length > 0);
  const first = messages[0] ?? chain[0]?.code ?? chain[0]?.name ?? 'error';
  const last = messages[messages.length - 1];
  return last !== undefined && last !== first ? `${first}: ${last}` : first;
}
