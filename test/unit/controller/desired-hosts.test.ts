import { DesiredHosts } from '../../../src/controller/desired-hosts.ts';
import { createMetrics } from '../../../src/metrics.ts';
import type { Alert } from '../../../src/sinks/mattermost-notifier.ts';
import { captureLogger } from '../sinks/fakes.ts';

describe('DesiredHosts.readFailed', () => {
  it('keeps the desired set, logs the failure with its cause and alerts', () => {
    const { logger, entries } = captureLogger();
    const alerts: Alert[] = [];
    const desired = new DesiredHosts({
      policy: { confirmPolls: 1, maxShare: 1, massConfirmPolls: 1 },
      seed: { synced: () => true, published: () => undefined },
      metrics: createMetrics(),
      logger,
      notifier: { notify: (alert) => void alerts.push(alert) },
    });
    desired.update(['a-grpc.example.com']);
    desired.readFailed(new Error('AccessDenied'));
    expect(desired.get()).toEqual(['a-grpc.example.com']);
    expect(entries).toContainEqual(
      expect.objectContaining({ level: 'error', message: 'Route53 poll failed; the published endpoints are kept', error: 'AccessDenied' }),
    );
    expect(alerts).toEqual([{ title: 'Thanos store discovery failed to read Route53', error: new Error('AccessDenied') }]);
  });
});

describe('DesiredHosts.publishedHosts', () => {
  it('is what the ConfigMap publishes before the first read, then the desired set', () => {
    const desired = new DesiredHosts({
      policy: { confirmPolls: 1, maxShare: 1, massConfirmPolls: 1 },
      seed: { synced: () => true, published: () => ({ hosts: ['old-grpc.example.com'], missing: new Map() }) },
      metrics: createMetrics(),
      logger: captureLogger().logger,
      notifier: { notify: () => {} },
    });
    expect(desired.publishedHosts()).toEqual(['old-grpc.example.com']);
    desired.update(['new-grpc.example.com']);
    expect(desired.publishedHosts()).toEqual(['new-grpc.example.com']);
  });
});
