import { jest } from '@jest/globals';
import { ListResourceRecordSetsCommand, type Route53Client } from '@aws-sdk/client-route-53';
import { route53Budget, throttleRoute53 } from '../../../src/sources/route53-throttle.ts';

// On jest's fake clock (p-throttle schedules with Date.now and setTimeout): the schedule is asserted exactly, and a
// loaded machine cannot move it.
beforeEach(() => {
  jest.useFakeTimers({ now: 0 });
});
afterEach(() => {
  jest.useRealTimers();
});

/** A client that answers at once and notes when, on the fake clock, each request reached it. */
function recordingClient() {
  const sentAt: number[] = [];
  const send = async (command: ListResourceRecordSetsCommand) => {
    sentAt.push(Date.now());
    return { zone: command.input.HostedZoneId };
  };
  return { client: { send } as unknown as Pick<Route53Client, 'send'>, sentAt };
}

const command = (zone: string) => new ListResourceRecordSetsCommand({ HostedZoneId: zone });

/** The most requests that started within any one-second window. */
function busiestSecond(times: readonly number[]): number {
  return Math.max(...times.map((start) => times.filter((t) => t >= start && t < start + 1_000).length));
}

/** Settles `promise` while the fake clock runs. */
async function settled<T>(promise: Promise<T>): Promise<T> {
  let done = false;
  void promise.finally(() => (done = true)).catch(() => undefined);
  while (!done) await jest.advanceTimersByTimeAsync(10);
  return promise;
}

describe('throttleRoute53', () => {
  it('lets a burst of maxRps through, then spaces requests so no second holds more than maxRps', async () => {
    const { client, sentAt } = recordingClient();
    const throttled = throttleRoute53(client, 4);

    const answers = await settled(Promise.all(Array.from({ length: 9 }, (_, i) => throttled.send(command(`Z${i}`)))));

    expect(answers).toEqual(Array.from({ length: 9 }, (_, i) => ({ zone: `Z${i}` })));
    expect(sentAt).toHaveLength(9);
    expect(sentAt.slice(0, 4)).toEqual([0, 0, 0, 0]);
    expect(busiestSecond(sentAt)).toBeLessThanOrEqual(4);
    // Nine requests at four a second need two full windows.
    expect(sentAt[8]).toBeGreaterThanOrEqual(2_000);
  });

  it('never sends a request whose signal aborts while it waits for its turn, and rejects it at once', async () => {
    const { client, sentAt } = recordingClient();
    const throttled = throttleRoute53(client, 1);
    await settled(throttled.send(command('Z1')));

    const controller = new AbortController();
    const waiting = throttled.send(command('Z2'), { abortSignal: controller.signal });
    const outcome = waiting.catch((error: unknown) => error);
    await jest.advanceTimersByTimeAsync(100);
    controller.abort(new Error('poller stopped'));

    // At once: no fake time passes between the abort and the rejection.
    expect(await outcome).toEqual(new Error('poller stopped'));
    // Past the turn the aborted request would have had: it still never reached the client.
    await jest.advanceTimersByTimeAsync(1_100);
    expect(sentAt).toHaveLength(1);
  });

  it('rejects a request whose signal is already aborted without sending it', async () => {
    const { client, sentAt } = recordingClient();
    const throttled = throttleRoute53(client, 2);

    await expect(throttled.send(command('Z1'), { abortSignal: AbortSignal.abort(new Error('gone')) })).rejects.toThrow('gone');
    expect(sentAt).toHaveLength(0);
  });

  it('shares one account budget between the clients it wraps (one per role into the account)', async () => {
    const first = recordingClient();
    const second = recordingClient();
    const budget = route53Budget(2);
    const [a, b] = [budget(first.client), budget(second.client)];

    await settled(Promise.all([a.send(command('Z1')), b.send(command('Z2')), a.send(command('Z3')), b.send(command('Z4'))]));

    const all = [...first.sentAt, ...second.sentAt].sort((x, y) => x - y);
    expect(all).toHaveLength(4);
    expect(busiestSecond(all)).toBeLessThanOrEqual(2);
    // Two clients with a budget of their own each would have sent all four at once.
    expect(all[3]).toBeGreaterThanOrEqual(1_000);
  });

  it('gives separate budgets to separate accounts', async () => {
    const first = recordingClient();
    const second = recordingClient();
    const [a, b] = [route53Budget(1)(first.client), route53Budget(1)(second.client)];

    await Promise.all([a.send(command('Z1')), b.send(command('Z2'))]);
    const abortable = new AbortController();
    // Both accounts used their one request of this second: a third request on either waits for the next window.
    const waiting = a.send(command('Z3'), { abortSignal: abortable.signal });
    abortable.abort(new Error('test over'));
    await expect(waiting).rejects.toThrow('test over');

    expect([first.sentAt.length, second.sentAt.length]).toEqual([1, 1]);
  });
});
