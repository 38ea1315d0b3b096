import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ListResourceRecordSetsCommand } from '@aws-sdk/client-route-53';
import type { Route53Outcome } from '../../../src/metrics.ts';
import { createRoute53Client } from '../../../src/sources/route53-client.ts';
import { classifyRoute53Error } from '../../../src/sources/route53-errors.ts';

// A loopback stand-in for the Route53 endpoint: it answers with whatever the test sets and records what it was asked.
type Reply = (res: http.ServerResponse, req: http.IncomingMessage) => void;
const XML = { 'content-type': 'text/xml' };
const emptyPage: Reply = (res) => {
  res.writeHead(200, XML);
  res.end(
    '<?xml version="1.0"?>\n<ListResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">' +
      '<ResourceRecordSets><ResourceRecordSet><Name>a-grpc.x.</Name><Type>A</Type><TTL>60</TTL><ResourceRecords>' +
      '<ResourceRecord><Value>10.0.0.1</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></ResourceRecordSets>' +
      '<IsTruncated>false</IsTruncated><MaxItems>300</MaxItems></ListResourceRecordSetsResponse>',
  );
};
const errorReply =
  (status: number, code: string, message: string): Reply =>
  (res) => {
    res.writeHead(status, XML);
    res.end(
      '<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type>' +
        `<Code>${code}</Code><Message>${message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`,
    );
  };

let reply: Reply = emptyPage;
let requests: { url: string | undefined; authorization: string | undefined }[] = [];
let server: http.Server;
let endpoint: string;
const savedEnv = { ...process.env };

beforeAll(async () => {
  server = http.createServer((req, res) => {
    requests.push({ url: req.url, authorization: req.headers.authorization });
    reply(res, req);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  reply = emptyPage;
  requests = [];
  process.env = { ...savedEnv, AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'secret' };
  delete process.env.AWS_REGION;
  delete process.env.AWS_ENDPOINT_URL;
  delete process.env.AWS_ENDPOINT_URL_ROUTE_53;
  delete process.env.AWS_PROFILE;
});

afterAll(() => {
  process.env = savedEnv;
});

const list = (zone = 'Z1') => new ListResourceRecordSetsCommand({ HostedZoneId: zone, MaxItems: 300 });

describe('createRoute53Client', () => {
  it('signs for us-east-1 by default and reaches the endpoint named by AWS_ENDPOINT_URL_ROUTE_53', async () => {
    process.env.AWS_ENDPOINT_URL_ROUTE_53 = endpoint;
    const client = createRoute53Client();

    const page = await client.send(list());
    expect(page.ResourceRecordSets?.[0]?.Name).toBe('a-grpc.x.');
    expect(requests).toHaveLength(1);
    expect(requests[0]?.url).toBe('/2013-04-01/hostedzone/Z1/rrset?maxitems=300');
    expect(requests[0]?.authorization).toContain('/us-east-1/route53/aws4_request');
  });

  it('takes the endpoint and region from its options before the environment', async () => {
    process.env.AWS_ENDPOINT_URL_ROUTE_53 = 'http://127.0.0.1:9';
    process.env.AWS_REGION = 'eu-west-1';
    const client = createRoute53Client({ endpoint, region: 'cn-north-1' });

    await client.send(list());
    expect(requests[0]?.authorization).toContain('/cn-north-1/route53/aws4_request');
  });

  it('signs for AWS_REGION when it is set', async () => {
    process.env.AWS_REGION = 'eu-west-1';
    await expect(createRoute53Client({ endpoint }).config.region()).resolves.toBe('eu-west-1');
  });

  it.each<{ title: string; failure: Reply; outcome: Route53Outcome }>([
    { title: 'Throttling', failure: errorReply(400, 'Throttling', 'Rate exceeded'), outcome: 'throttled' },
    { title: 'PriorRequestNotComplete', failure: errorReply(400, 'PriorRequestNotComplete', 'busy'), outcome: 'throttled' },
    {
      title: 'HTTP 503',
      failure: (res) => res.writeHead(503, { 'content-type': 'text/html' }).end('<html>unavailable</html>'),
      outcome: 'server_error',
    },
    {
      title: 'NoSuchHostedZone',
      failure: errorReply(404, 'NoSuchHostedZone', 'No hosted zone found with ID: Z1'),
      outcome: 'client_error',
    },
  ])('makes one HTTP attempt per send on $title, whose SDK error classifies as $outcome', async ({ failure, outcome }) => {
    reply = failure;

    const error = await createRoute53Client({ endpoint })
      .send(list())
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(classifyRoute53Error(error)).toBe(outcome);
    expect(requests).toHaveLength(1);
  });

  // Node's socket errors come from outside jest's VM realm, so the SDK rewraps them here as it would not in production.
  it.each<{ title: string; port: () => Promise<number>; failure?: Reply }>([
    { title: 'a reset connection', port: async () => Number(new URL(endpoint).port), failure: (_res, req) => req.socket.destroy() },
    { title: 'a refused connection', port: closedPort },
  ])('makes one attempt on $title, whose SDK error classifies as network_error', async ({ port, failure }) => {
    if (failure) reply = failure;

    const error = await createRoute53Client({ endpoint: `http://127.0.0.1:${await port()}` })
      .send(list())
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(classifyRoute53Error(error)).toBe('network_error');
    expect(requests).toHaveLength(failure ? 1 : 0);
  });
});

async function closedPort(): Promise<number> {
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const { port } = closed.address() as AddressInfo;
  await new Promise((resolve) => closed.close(resolve));
  return port;
}
