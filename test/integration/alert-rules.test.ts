// The chart's PrometheusRule checked and unit-tested by the real promtool: every alert has a history that fires it
// and one that must leave it silent (test/prometheus/alert-rules.test.yml).
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { resolvePeerBinaries } from '../peers/binaries.ts';
import { helmForTests, only, PEER_BUILD_TIMEOUT_MS, runTool, setValues, type Manifest } from '../support/tools.ts';

const UNIT_TESTS = fileURLToPath(new URL('../prometheus/alert-rules.test.yml', import.meta.url));
// The unit tests' series carry the labels the default selector of release `tsd` in namespace `monitoring` matches.
const RELEASE = 'tsd';
const NAMESPACE = 'monitoring';

interface RuleGroups {
  groups: { name: string; rules: { alert?: string; expr: string; for?: string }[] }[];
}

interface UnitTests {
  tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

const helm = helmForTests();
let promtool: string;
let dir: string;

beforeAll(async () => {
  promtool = (await resolvePeerBinaries(['promtool'])).promtool;
  dir = await mkdtemp(join(tmpdir(), 'tsd-rules-'));
  await copyFile(UNIT_TESTS, join(dir, 'alert-rules.test.yml'));
}, PEER_BUILD_TIMEOUT_MS);

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** The PrometheusRule's groups as a Prometheus rule file, written where the unit tests expect rules.yml. */
async function renderRules(values: Record<string, string | number> = {}): Promise<RuleGroups> {
  const manifests = await helm.template(
    RELEASE,
    NAMESPACE,
    ...setValues({ 'prometheusRule.enabled': true, 'prometheusRule.force': true, ...values }),
  );
  const rules = only<Manifest & { spec: RuleGroups }>(manifests, 'PrometheusRule').spec;
  await writeFile(join(dir, 'rules.yml'), stringify(rules));
  return rules;
}

function alertNames(rules: RuleGroups): string[] {
  return rules.groups.flatMap((group) => group.rules.flatMap((rule) => (rule.alert === undefined ? [] : [rule.alert])));
}

describe('the PrometheusRule', () => {
  it('passes promtool check rules, lint included', async () => {
    const rules = await renderRules();
    const result = await runTool(promtool, ['check', 'rules', '--lint=all', '--lint-fatal', join(dir, 'rules.yml')]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`SUCCESS: ${alertNames(rules).length} rules found`);
  });

  it('passes its promtool unit tests, and every alert has one history that fires it and one that does not', async () => {
    const rules = await renderRules();
    const result = await runTool(promtool, ['test', 'rules', join(dir, 'alert-rules.test.yml')]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('SUCCESS');

    const cases = (parse(await readFile(UNIT_TESTS, 'utf8')) as UnitTests).tests.flatMap((test) => test.alert_rule_test ?? []);
    const coverage = Object.fromEntries(
      alertNames(rules).map((alert) => {
        const own = cases.filter((c) => c.alertname === alert);
        return [alert, { fires: own.some((c) => c.exp_alerts.length > 0), silent: own.some((c) => c.exp_alerts.length === 0) }];
      }),
    );
    expect(Object.keys(coverage)).toHaveLength(12);
    for (const [alert, covered] of Object.entries(coverage)) expect({ alert, ...covered }).toEqual({ alert, fires: true, silent: true });
  });

  it('takes its thresholds from the values: a longer allowed sync age leaves the stale-sync history silent', async () => {
    await renderRules({ 'prometheusRule.syncStale.maxAgeSeconds': 3600 });
    const result = await runTool(promtool, ['test', 'rules', '--run', '^SyncStale', join(dir, 'alert-rules.test.yml')]);
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain('alertname: ThanosStoreDiscoverySyncStale');
  });

  it('selects the series of the release by namespace and job unless a selector is given', async () => {
    const byDefault = await renderRules();
    expect(byDefault.groups[0]!.rules[0]!.expr).toContain('{namespace="monitoring", job="tsd-thanos-store-discovery"}');
    const custom = await renderRules({ 'prometheusRule.selector': 'app="tsd"', 'prometheusRule.noLeader.for': '1m' });
    expect(custom.groups[0]!.rules.every((rule) => rule.expr.includes('{app="tsd"') && !rule.expr.includes('job='))).toBe(true);
    expect(custom.groups[0]!.rules.find((rule) => rule.alert === 'ThanosStoreDiscoveryNoLeader')?.for).toBe('1m');
  });
});
