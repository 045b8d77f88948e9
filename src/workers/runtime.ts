import { type Job, Worker } from 'bullmq';
import type { Infra } from '../infra/context.js';
import { type JobName, QUEUE_OF, type QueueName, RECONCILIATION_SCHEDULER_ID, SWEEPER_SCHEDULER_ID, defaultJobOptions, workerDefaults } from '../infra/queues/catalogue.js';
import { loadLastSuccess } from '../domain/reconciliation/run.js';
import { assertCatalogueHandled, handlers } from './handlers.js';
import { startTimerPump } from './timer-pump.js';
import { type PersisterOptions, startPersister } from '../domain/outbox/persister.js';

export interface WorkerRuntime {
  workers: Worker[];
  /** Stop fetching, let in-flight jobs finish, then return. */
  close(): Promise<void>;
}

/**
 * BullMQ workers for every queue of the catalogue, the timer pump and the outbox persister, in
 * this process. Any number of processes on
 * any hosts can run this: BullMQ hands each job to one of them, and a crashed process's jobs
 * are retried elsewhere once their lock lapses (stall recovery).
 */
export interface WorkerOptions {
  /** register the sweeper's job scheduler (default true) */
  sweeper?: boolean;
  /** register the daily reconciliation's job scheduler (default: RECONCILIATION_ENABLED) */
  reconciliation?: boolean;
  /** run the outbox persister in this process (default true); tests may pass persister options */
  persister?: boolean | Partial<PersisterOptions>;
}

/**
 * Jobs in flight per process for one shard's queue. WORKER_CONCURRENCY (PAYMENT_WORKER_CONCURRENCY
 * for payment results) stays the process's bound per queue: split over the shards (an order's
 * shard is a hash of its id, so they fill evenly). The sweeper and the reconciliation run one at
 * a time.
 */
function concurrencyOf(queueName: QueueName, config: Infra['config']): number {
  if (queueName === 'maintenance' || queueName === 'reconciliation') return 1;
  const perProcess = queueName === 'payment-result' ? config.paymentWorkerConcurrency : config.workerConcurrency;
  return Math.ceil(perProcess / config.queueShards);
}

export async function startWorkers(infra: Infra, opts: WorkerOptions = {}): Promise<WorkerRuntime> {
  assertCatalogueHandled();
  const { config, core } = infra;
  const dispatch = async (job: Job, token?: string) => {
    const handler = handlers[job.name as JobName] as ((deps: typeof core, job: Job, token: string | undefined) => Promise<unknown>) | undefined;
    if (!handler) throw new Error(`no handler for job ${job.name} in queue ${job.queueName}`);
    return handler(core, job, token);
  };

  // one Worker per queue of every shard (QUEUE_SHARDS, design §9): every process serves them all
  const workers = core.queues.all().map(({ name: queueName, prefix, shard }) => {
    const worker = new Worker(queueName, dispatch, {
      connection: infra.queueRedis,
      prefix,
      concurrency: concurrencyOf(queueName, config),
      lockDuration: config.workerLockMs,
      stalledInterval: config.workerStalledIntervalMs,
      maxStalledCount: 3,
      ...workerDefaults(queueName, config.close),
    });
    worker.on('error', (err) => core.logger.error({ err: err.message, queue: queueName, shard }, 'worker error'));
    worker.on('failed', (job, err) => {
      const final = job && job.attemptsMade >= (job.opts.attempts ?? 1);
      core.logger[final ? 'error' : 'warn']({ queue: queueName, shard, jobId: job?.id, attempt: job?.attemptsMade, err: err.message }, final ? 'job failed for good' : 'job failed, will retry');
    });
    return worker;
  });

  if (opts.sweeper !== false) {
    // One scheduler for all processes (same id, shard 0's queue): BullMQ runs each tick once.
    await infra.core.queues.byName[QUEUE_OF.sweep].upsertJobScheduler(
      SWEEPER_SCHEDULER_ID,
      { every: config.sweeperIntervalMs },
      { name: 'sweep', data: { kind: 'sweep' }, opts: defaultJobOptions('sweep', config.close) },
    );
  }

  if (opts.reconciliation ?? config.reconciliation.enabled) {
    // every day at RECONCILIATION_AT, Beijing time (China has no daylight saving), once for all
    // processes: the tick queues `reconcile-<yesterday>`, whose one job id keeps a day's runs apart
    const { hour, minute } = config.reconciliation;
    await infra.core.queues.byName[QUEUE_OF['reconcile-yesterday']].upsertJobScheduler(
      RECONCILIATION_SCHEDULER_ID,
      { pattern: `0 ${minute} ${hour} * * *`, tz: 'Asia/Shanghai' },
      { name: 'reconcile-yesterday', data: { kind: 'daily' }, opts: defaultJobOptions('reconcile-yesterday', config.close) },
    );
  }
  // not awaited: a worker starts while MySQL is down, as it always could
  void loadLastSuccess(core).catch((err: Error) => core.logger.warn({ err: err.message }, 'could not read the last reconciliation'));

  const pump = startTimerPump(core, config.timerPumpIntervalMs);
  const persister =
    opts.persister === false ? undefined : startPersister(core, { ...config.persister, ...(typeof opts.persister === 'object' ? opts.persister : {}) });

  return {
    workers,
    async close() {
      // no job is taken from here on: BullMQ's close marks each worker closing at once, then
      // waits for its running jobs; the pump stops meanwhile
      const workersClosed = Promise.all(workers.map((worker) => worker.close()));
      await pump.close();
      await workersClosed;
      // last: the jobs that just finished may have appended final states
      await persister?.drainNow().catch(() => undefined);
      await persister?.close();
    },
  };
}
