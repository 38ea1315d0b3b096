// Benchmarks of the hot paths, with their targets. Run: `npm run bench`; results go to bench/results/latest.json.
// The machine is 2 cores; numbers are medians of several runs so one noisy run does not decide.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  ListResourceRecordSetsCommand,
  type ListResourceRecordSetsCommandOutput,
  type ResourceRecordSet,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import { decide } from '../src/controller/decide.ts';
import { hashEndpoints, parseEndpointsFile, renderEndpointsFile, toEndpoints } from '../src/controller/endpoints.ts';
import { createSilentLogger } from '../src/logger.ts';
import { createMetrics } from '../src/metrics.ts';
import { selectEndpointHosts } from '../src/sources/records.ts';
import { createRoute53Reader } from '../src/sources/route53-reader.ts';

interface Result {
  name: string;
  records: number;
  medianMs: number;
  heapDeltaMb: number;
  targetMs: number;
  targetHeapMb: number;
  met: boolean;
}

/** A zone as large clusters fleets get: `n` clusters, each an A and an AAAA `-grpc` record plus two unrelated ones. */
function zone(n: number): ResourceRecordSet[] {
  const records: ResourceRecordSet[] = [];
  for (let i = 0; i < n; i++) {
    const base = `cluster-${i}`;
    records.push(
      { Name: `${base}-grpc.internal.example.com.`, Type: 'A', TTL: 60, ResourceRecords: [{ Value: '10.0.0.1' }] },
      { Name: `${base}-grpc.internal.example.com.`, Type: 'AAAA', TTL: 60, ResourceRecords: [{ Value: 'fd00::1' }] },
      { Name: `${base}-http.internal.example.com.`, Type: 'A', TTL: 60, ResourceRecords: [{ Value: '10.0.0.2' }] },
      { Name: `${base}.internal.example.com.`, Type: 'TXT', TTL: 60, ResourceRecords: [{ Value: '"owner"' }] },
    );
  }
  return records;
}

/** An in-memory Route53 that pages like AWS (300 per page), so the reader's own cost is measured, not the network. */
function pagedClient(records: ResourceRecordSet[]): Pick<Route53Client, 'send'> {
  const position = new Map(records.map((r, i) => [`${r.Name}|${r.Type}`, i]));
  const send = async (command: ListResourceRecordSetsCommand): Promise<ListResourceRecordSetsCommandOutput> => {
    const { StartRecordName, StartRecordType, MaxItems = 300 } = command.input;
    const from = StartRecordName ? (position.get(`${StartRecordName}|${StartRecordType}`) ?? records.length) : 0;
    const page = records.slice(from, from + MaxItems);
    const next = records[from + MaxItems];
    return {
      ResourceRecordSets: page,
      IsTruncated: next !== undefined,
      NextRecordName: next?.Name,
      NextRecordType: next?.Type,
      MaxItems,
      $metadata: {},
    };
  };
  return { send };
}

async function measure(name: string, records: number, targetMs: number, targetHeapMb: number, run: () => unknown): Promise<Result> {
  const times: number[] = [];
  let heapDeltaMb = 0;
  for (let i = 0; i < 7; i++) {
    globalThis.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
    heapDeltaMb = Math.max(heapDeltaMb, (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20);
  }
  times.sort((a, b) => a - b);
  const medianMs = Number(times[3]!.toFixed(2));
  const result = { name, records, medianMs, heapDeltaMb: Number(heapDeltaMb.toFixed(1)), targetMs, targetHeapMb };
  return { ...result, met: medianMs <= targetMs && result.heapDeltaMb <= targetHeapMb };
}

const results: Result[] = [];
for (const clusters of [1_000, 10_000, 50_000]) {
  const records = zone(clusters);
  // Targets are set for 10,000 clusters (a pass must stay well under a second on 2 cores) and scale linearly with
  // the fleet, with a floor so fixed costs do not fail the small case.
  const budget = (msAt10k: number, mbAt10k: number): [number, number] => [
    Math.max(20, (msAt10k * clusters) / 10_000),
    Math.max(16, (mbAt10k * clusters) / 10_000),
  ];
  const hosts = selectEndpointHosts(records, '-grpc');
  const endpoints = toEndpoints(hosts, 10901);
  const text = renderEndpointsFile(endpoints, 'file_sd');
  results.push(
    await measure('select hosts from records', records.length, ...budget(100, 64), () => selectEndpointHosts(records, '-grpc')),
    await measure('render + hash', endpoints.length, ...budget(50, 32), () => hashEndpoints(endpoints) + renderEndpointsFile(endpoints, 'file_sd')),
    await measure('parse the published file', endpoints.length, ...budget(150, 64), () => parseEndpointsFile(text)),
    await measure('decide a steady-state pass', endpoints.length, ...budget(250, 96), () =>
      decide({
        desiredHosts: hosts,
        port: 10901,
        format: 'file_sd',
        restartMode: 'annotation',
        observed: { configMap: { exists: true, text, hashAnnotation: undefined }, deployment: { exists: true, hashAnnotation: hashEndpoints(endpoints) } },
      }),
    ),
    await measure('read all pages (in-memory Route53)', records.length, ...budget(400, 128), () =>
      createRoute53Reader({ client: pagedClient(records), zones: ['Z1'], suffix: '-grpc', metrics: createMetrics(), logger: createSilentLogger() }).read(),
    ),
  );
}

const report = { node: process.version, date: new Date().toISOString(), results };
const out = fileURLToPath(new URL('./results/latest.json', import.meta.url));
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
for (const r of results) {
  console.log(`${r.met ? 'ok  ' : 'MISS'} ${r.name.padEnd(38)} n=${String(r.records).padStart(6)} median ${String(r.medianMs).padStart(8)} ms (target ${r.targetMs}) heap +${r.heapDeltaMb} MB (target ${r.targetHeapMb})`);
}
console.log(`results written to ${out}`);
