/** A real peer could not be built, started or reached; `peer` names it so a failing test says which one. */
export class PeerError extends Error {
  readonly peer: string;

  constructor(peer: string, message: string, options?: { cause?: unknown }) {
    super(`${peer}: ${message}`, options);
    this.name = 'PeerError';
    this.peer = peer;
  }
}
