interface CollectedMetric {
  get(): Promise<{ values: readonly { value: number; labels: Partial<Record<string, string | number>> }[] }>;
}

/** The value of a prom-client metric's first sample whose labels include `labels`; 0 when it has none yet. */
export async function metricValue(metric: CollectedMetric, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await metric.get();
  return values.find((sample) => Object.entries(labels).every(([name, wanted]) => sample.labels[name] === wanted))?.value ?? 0;
}
