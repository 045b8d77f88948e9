import autocannon from 'autocannon';

/**
 * One autocannon run of `POST /seckill/orders` in which every request is a distinct
 * (buyer, goods) pair: request i is buyer i mod B on goods ⌊i / B⌋ mod G, so B pre-signed
 * buyer tokens and G goods give B·G grabs before any pair repeats (a repeat would be a cheap
 * 409 REPEAT_ORDER and flatter the figures; `wrapped` counts them).
 */

export interface GrabLoad {
  url: string;
  connections: number;
  durationS: number;
  /** `Bearer <jwt>` of each buyer */
  authorizations: readonly string[];
  goodsIds: readonly string[];
  /** shared across a warm-up and the measured run of one target, so pairs never repeat */
  cursor: { next: number };
}

export interface LoadFigures {
  requests: number;
  reqPerSec: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  status: Record<string, number>;
  errors: number;
  timeouts: number;
  /** requests that reused a (buyer, goods) pair */
  wrapped: number;
}

export async function runGrabLoad(load: GrabLoad): Promise<LoadFigures> {
  const buyers = load.authorizations.length;
  const pairs = buyers * load.goodsIds.length;
  const bodies = load.goodsIds.map((id) => JSON.stringify({ goodsId: id }));
  let wrapped = 0;
  const result = await autocannon({
    url: load.url,
    connections: load.connections,
    duration: load.durationS,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: '/seckill/orders',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => {
          const i = load.cursor.next++;
          if (i >= pairs) wrapped += 1;
          return {
            ...request,
            headers: { ...request.headers, authorization: load.authorizations[i % buyers]! },
            body: bodies[Math.floor(i / buyers) % bodies.length]!,
          };
        },
      },
    ],
  });
  const status: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) status[code] = stat.count ?? 0;
  return {
    requests: result.requests.total,
    reqPerSec: result.requests.average,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    status,
    errors: result.errors,
    timeouts: result.timeouts,
    wrapped,
  };
}
