/**
 * A drill refused before anything was disrupted: the input does not describe what is really
 * there (a data directory that is not the endpoint's server, an endpoint host that does not
 * resolve or answer). Thrown before T0 only; the engine records it as an abort with nothing
 * disrupted and `run` exits 2 (invalid input), never 4 (issue 11, findings 1 and 8).
 */
export class RefusedBeforeT0 extends Error {
  override name = 'RefusedBeforeT0';
}
