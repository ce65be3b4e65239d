/** The sandbox endpoints, as exported by the global setup; a missing one fails the test loudly. */
export function sandbox(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: integration tests run through jest's global setup (npm test)`);
  return v;
}

export const uniqueId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
