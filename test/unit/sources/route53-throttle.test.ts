import { ListResourceRecordSetsCommand, type Route53Client } from '@aws-sdk/client-route-53';
import { throttleRoute53 } from '../../../src/sources/route53-throttle.ts';

/** A client that answers at once and notes when each request reached it. */
function recordingClient() {
  const sentAt: number[] = [];
  const send = async (command: ListResourceRecordSetsCommand) => {
    sentAt.push(performance.now());
    return { zone: command.input.HostedZoneId };
  };
  return { client: { send } as unknown as Pick<Route53Client, 'send'>, sentAt };
}

const command = (zone: string) => new ListResourceRecordSetsCommand({ HostedZoneId: zone });

/** The most requests that started within any one-second window (less 10 ms: the throttle counts whole milliseconds of Date.now). */
function busiestSecond(times: readonly number[]): number {
  return Math.max(...times.map((start) => times.filter((t) => t >= start && t < start + 990).length));
}

describe('throttleRoute53', () => {
  it('lets a burst of maxRps through, then spaces requests so no second holds more than maxRps', async () => {
    const { client, sentAt } = recordingClient();
    const throttled = throttleRoute53(client, 4);

    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: 9 }, (_, i) => throttled.send(command(`Z${i}`))));

    expect(answers).toEqual(Array.from({ length: 9 }, (_, i) => ({ zone: `Z${i}` })));
    expect(sentAt).toHaveLength(9);
    expect(sentAt.slice(0, 4).every((t) => t - started < 200)).toBe(true);
    expect(busiestSecond(sentAt)).toBeLessThanOrEqual(4);
    // Nine requests at four a second need more than two full windows.
    expect(sentAt[8]! - started).toBeGreaterThanOrEqual(2_000 - 20);
  });

  it('never sends a request whose signal aborts while it waits for its turn, and rejects it at once', async () => {
    const { client, sentAt } = recordingClient();
    const throttled = throttleRoute53(client, 1);
    await throttled.send(command('Z1'));

    const controller = new AbortController();
    const waiting = throttled.send(command('Z2'), { abortSignal: controller.signal });
    const abortedAt = performance.now();
    controller.abort(new Error('poller stopped'));

    await expect(waiting).rejects.toThrow('poller stopped');
    expect(performance.now() - abortedAt).toBeLessThan(500);
    // Past the turn the aborted request would have had: it still never reached the client.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(sentAt).toHaveLength(1);
  });

  it('rejects a request whose signal is already aborted without sending it', async () => {
    const { client, sentAt } = recordingClient();
    const throttled = throttleRoute53(client, 2);

    await expect(throttled.send(command('Z1'), { abortSignal: AbortSignal.abort(new Error('gone')) })).rejects.toThrow('gone');
    expect(sentAt).toHaveLength(0);
  });
});
