import type { Deployment } from '../kube/types.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { EventRecorder } from '../sinks/event-recorder.ts';
import {
  checkConsumer,
  CONSUMER_PROBLEMS,
  type ConsumerExpectation,
  type ConsumerProblem,
  type ConsumerProblemReason,
} from './consumer-check.ts';

/**
 * Tells when the Thanos Deployment cannot consume the published file: a warning log and a Kubernetes Event on the
 * Deployment once per problem as it appears (not on every informer event), and the
 * `consumer_misconfigured{reason}` gauge for as long as it lasts.
 */
export class ConsumerMonitor {
  private readonly options: {
    expectation: ConsumerExpectation;
    /** False on a standby replica: only the leader speaks, so each problem gives one Event. */
    active: () => boolean;
    /** Undefined under DRY_RUN, which writes nothing to the API server: the problems are then only logged. */
    events: EventRecorder | undefined;
    metrics: Metrics;
    logger: Logger;
  };
  private reported = new Map<ConsumerProblemReason, string>();

  constructor(options: ConsumerMonitor['options']) {
    this.options = options;
    for (const reason of CONSUMER_PROBLEMS) options.metrics.consumerMisconfigured.set({ reason }, 0);
  }

  /** Checks the Deployment as the cache holds it now; a missing one has nothing to check. */
  async check(deployment: Deployment | undefined): Promise<void> {
    const { expectation, active, events, metrics, logger } = this.options;
    if (!active()) return;
    const problems = deployment === undefined ? [] : checkConsumer(deployment, expectation);
    const now = new Map(problems.map((problem): [ConsumerProblemReason, string] => [problem.reason, problem.message]));
    for (const reason of CONSUMER_PROBLEMS) metrics.consumerMisconfigured.set({ reason }, now.has(reason) ? 1 : 0);
    const fresh = problems.filter((problem) => this.reported.get(problem.reason) !== problem.message);
    const resolved = [...this.reported.keys()].filter((reason) => !now.has(reason));
    this.reported = now;
    if (resolved.length > 0) logger.info('the Thanos Deployment no longer has these problems', { reasons: resolved });
    for (const problem of fresh) {
      logger.warn('the Thanos Deployment cannot consume the published file', { reason: problem.reason, problem: problem.message });
      await events?.record(toEvent(deployment!, problem));
    }
  }
}

function toEvent(deployment: Deployment, problem: ConsumerProblem): Parameters<EventRecorder['record']>[0] {
  const uid = deployment.metadata?.uid;
  return {
    involved: { kind: 'Deployment', name: deployment.metadata?.name ?? '', apiVersion: 'apps/v1', ...(uid === undefined ? {} : { uid }) },
    reason: 'StoreListNotConsumable',
    message: `${problem.reason}: ${problem.message}`,
    type: 'Warning',
  };
}
