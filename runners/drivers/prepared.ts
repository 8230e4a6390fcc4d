/**
 * Every driver opens a session the same way: prepare it, and if preparing fails, close what
 * was opened before the error goes up (undos already journaled stay for teardown).
 */
export async function preparedSession<S extends { prepare(): Promise<void>; close(): Promise<void> }>(session: S): Promise<S> {
  try {
    await session.prepare();
  } catch (error) {
    await session.close();
    throw error;
  }
  return session;
}
