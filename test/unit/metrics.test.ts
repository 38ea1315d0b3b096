import { createMetrics } from '../../src/metrics.ts';

describe('createMetrics', () => {
  it('exposes the default process and Node.js metrics under their standard names, the own ones under the prefix', async () => {
    const metrics = createMetrics();
    metrics.collectDefaults();
    const names = (await metrics.registry.getMetricsAsJSON()).map((metric) => metric.name);

    expect(names).toEqual(
      expect.arrayContaining([
        'process_cpu_user_seconds_total',
        'process_resident_memory_bytes',
        'process_start_time_seconds',
        'nodejs_heap_size_used_bytes',
        'nodejs_eventloop_lag_seconds',
        'thanos_store_discovery_endpoints',
      ]),
    );
    const standard = names.filter((name) => name.startsWith('process_') || name.startsWith('nodejs_'));
    const own = names.filter((name) => !standard.includes(name));
    expect(standard.length).toBeGreaterThan(10);
    expect(own.every((name) => name.startsWith('thanos_store_discovery_'))).toBe(true);
    expect(
      names.filter((name) => name.startsWith('thanos_store_discovery_process_') || name.startsWith('thanos_store_discovery_nodejs_')),
    ).toEqual([]);
  });
});
