import { type Server, createServer } from 'node:http';
import type { Logger } from '../infra/logger.js';
import type { Metrics } from '../infra/metrics.js';

/**
 * The worker's own Prometheus endpoint (closes, payments, lateness, drift are counted here, not in
 * the API). A port already in use (several workers on one host) only costs this process its
 * endpoint: it is logged, never fatal.
 */
export function startMetricsServer(metrics: Metrics, host: string, port: number, logger: Logger): Server | undefined {
  if (port === 0) return undefined;
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  server.on('error', (err) => logger.warn({ err: err.message, port }, 'worker metrics endpoint not started'));
  server.listen(port, host, () => logger.info(`worker metrics on http://${host}:${port}/metrics`));
  return server;
}
