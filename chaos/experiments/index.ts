import type { Experiment } from '../lib/experiment.js';
import { badInput } from './bad-input.js';
import { mariadbOutage } from './mariadb-outage.js';
import { payTimeoutCollisions } from './pay-timeout-collisions.js';
import { rabbitmqRestart } from './rabbitmq-restart.js';
import { redisRestart } from './redis-restart.js';
import { wechatFaults } from './wechat-faults.js';
import { workerKillStorm } from './worker-kill-storm.js';

/** Every experiment, in the order `npm run chaos` runs them. */
export const EXPERIMENTS: readonly Experiment[] = [workerKillStorm, payTimeoutCollisions, redisRestart, rabbitmqRestart, mariadbOutage, wechatFaults, badInput];
