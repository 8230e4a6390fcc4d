/**
 * Real-component tests (a packed install from the npm registry, Debian's Pushgateway) need
 * things a machine may lack. Without them the test is skipped with a banner nobody can miss;
 * under DRILLBOOK_REQUIRE_REAL=1 (CI) a missing component fails the run instead, so "skipped"
 * can never pass for "tested".
 */
export const REQUIRE_REAL = process.env.DRILLBOOK_REQUIRE_REAL === '1';

/** Call with the reason the component is unusable (or undefined); returns true when the test must be skipped. */
export function skipUnlessReal(component: string, reason: string | undefined): boolean {
  if (!reason) return false;
  if (REQUIRE_REAL) throw new Error(`DRILLBOOK_REQUIRE_REAL=1 but ${component} cannot be tested: ${reason}`);
  const bar = '!'.repeat(100);
  console.warn(`\n${bar}\n!! ${component.toUpperCase()} TEST SKIPPED: ${reason}\n!! Set DRILLBOOK_REQUIRE_REAL=1 to make this a failure.\n${bar}\n`);
  return true;
}
