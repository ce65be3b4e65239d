/**
 * Backup names for scheduled runs: a template with strftime-style fields (%Y %m %d %H %M %S), filled
 * with the run's start time in UTC, e.g. `nightly-%Y%m%d%H%M` → `nightly-202611260200`. Pure: the
 * workflow calls it with its own (deterministic) start time.
 */
export function expandNameTemplate(template: string, at: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const fields: Record<string, string> = {
    Y: String(at.getUTCFullYear()), m: p(at.getUTCMonth() + 1), d: p(at.getUTCDate()),
    H: p(at.getUTCHours()), M: p(at.getUTCMinutes()), S: p(at.getUTCSeconds()), '%': '%',
  };
  return template.replace(/%(.)/g, (all, f: string) => fields[f] ?? all);
}
