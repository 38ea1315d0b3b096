/**
 * The signals that stop the controller, caught from the moment this module is evaluated: main.ts imports it first,
 * before the AWS SDK and the rest load. As PID 1 in a container Node gets no default action for SIGTERM: the kernel
 * drops a signal the process has no handler for, so a signal sent before the handler existed would be lost, and a
 * run told to stop would go on (and write) until SIGKILL.
 */
const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Settles with the first stop signal's name; never rejects. */
export const stopRequested: Promise<string> = new Promise((resolve) => {
  for (const signal of STOP_SIGNALS) process.once(signal, () => resolve(signal));
});
