import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidInputError } from '@remediation/errors';
import { type ScanLimitsConfig, ScanParserPool } from './adapters/scan-parser.js';

/** Bodies up to this size (characters) on other routes than scans are parsed inline: cheaper than a worker hop. */
const INLINE_MAX_CHARS = 256 * 1024;

/** The route whose body carries a scan, validated in the worker with the body. */
const SCAN_ROUTE = { method: 'POST', url: '/v1/remediations' };

const scanChecked = new WeakSet<FastifyRequest>();

/** Whether the request's `scan` was validated (within the limits) when its body was parsed. */
export function scanWasChecked(req: FastifyRequest): boolean {
  return scanChecked.has(req);
}

/**
 * Installs the API's `application/json` body parsing (issue 11: large scans do not block the
 * event loop and are bounded):
 * - a declared `content-length` above `limits.maxBytes` gets 413 `BODY_TOO_LARGE` naming the limit
 *   before the body is read (fastify's `bodyLimit`, set to the same value, stops chunked bodies);
 * - an empty body means "no body" (POST /retry from curl or a client);
 * - the scan route's body is parsed and its scan validated in a worker thread
 *   ({@link ScanParserPool}); other bodies are parsed inline when small, else in a worker too.
 * The pool stops when the app closes.
 */
export function installJsonBody(app: FastifyInstance<any, any, any, any, any>, limits: ScanLimitsConfig): ScanParserPool {
  const pool = new ScanParserPool(limits);
  app.addHook('onClose', async () => pool.close());
  app.addHook('onRequest', async (req, reply) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limits.maxBytes) {
      return reply.code(413).send({
        code: 'BODY_TOO_LARGE',
        message: `request body is ${declared} bytes, more than the limit of ${limits.maxBytes} bytes (API_SCAN_MAX_BYTES)`,
        details: { limit: limits.maxBytes, size: declared },
      });
    }
  });
  app.addContentTypeParser('application/json', { parseAs: 'string' }, async (req: FastifyRequest, body: string | Buffer) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text === '') return undefined;
    const isScanRoute = req.method === SCAN_ROUTE.method && req.routeOptions.url === SCAN_ROUTE.url;
    if (!isScanRoute && text.length <= INLINE_MAX_CHARS) {
      try {
        return JSON.parse(text);
      } catch (err) {
        throw new InvalidInputError('REQUEST_INVALID', `request body is not valid JSON: ${(err as Error).message}`);
      }
    }
    const parsed = await pool.parse(text, isScanRoute);
    if (parsed.scanChecked) scanChecked.add(req);
    return parsed.value;
  });
  return pool;
}
