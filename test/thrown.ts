/** What `fn` threw, as name and message, or undefined if it returned: comparable whatever realm the error came from (the addon's are not jest's). */
export function thrown(fn: () => unknown): { name: string; message: string } | undefined {
  try {
    fn();
  } catch (err) {
    return { name: (err as Error).name, message: (err as Error).message };
  }
  return undefined;
}
