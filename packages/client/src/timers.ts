/**
 * Node's timers are objects with unref() (so a pending reconnect or idle timer does not keep a process
 * alive); Web runtimes return a number. Lets the core use both without Node's types.
 */
export function unrefTimer(timer: unknown): void {
  (timer as { unref?: () => void } | null)?.unref?.();
}
