import { Job, type JobProgress, Queue } from 'bullmq';

/**
 * The order-timeout queue holds one delayed `timeout` job per unpaid order, a million during a
 * big sale, so each job's Redis hash is kept under Redis's small-hash limit
 * (`hash-max-listpack-value`, 64 bytes per value by default): a hash with one longer value is
 * stored as a hashtable, ≈ 810 bytes instead of ≈ 240 (BENCHMARKS.md, "Memory per pending order").
 *
 * BullMQ writes the job's options, `jobId` included, as a JSON value of that hash. The id is the
 * hash's own key (`…:timeout-<orderId>`) and BullMQ never reads it back from the options (its
 * one use is a check, when adding, that a custom id is not all digits: ours never are), so this
 * queue's jobs leave it out; with it the options alone would exceed 64 bytes.
 * test/infra/close-queue.test.ts checks the stored hash, so a BullMQ upgrade that changes this
 * shows up there.
 */
class CloseJob<DataType, ReturnType, NameType extends string, ProgressType extends JobProgress> extends Job<DataType, ReturnType, NameType, ProgressType> {
  constructor(...args: ConstructorParameters<typeof Job<DataType, ReturnType, NameType, ProgressType>>) {
    super(...args);
    delete this.opts.jobId; // this.id already holds it
  }
}

/** A Queue whose jobs are CloseJob (BullMQ's extension point: QueueBase's protected `Job`). */
export class CloseQueue extends Queue {
  protected override get Job(): typeof Job {
    return CloseJob;
  }
}
