/**
 * Medusa's two-letter short flags (`-ps`, `-pu`, `-pr`), which commander cannot declare: rewritten
 * into their long forms before parsing, only after the command they belong to and up to a `--`.
 */
const SHORT_FLAGS: Record<string, Record<string, string>> = {
  'backup-cluster': { '-ps': '--parallel-snapshots', '-pu': '--parallel-uploads' },
  'restore-cluster': { '-pr': '--parallel-restores' },
};

/** The short form of a command's long option, for its help text. */
export function shortFlagOf(command: string, long: string | undefined): string | undefined {
  const flags = SHORT_FLAGS[command] ?? {};
  return Object.keys(flags).find((s) => flags[s] === long);
}

/** A commander help formatter showing `-pu, --parallel-uploads <n>` for the command's short flags. */
export function shortFlagsHelp(command: string): { optionTerm: (opt: { long?: string; flags: string }) => string } {
  return { optionTerm: (opt) => (shortFlagOf(command, opt.long) ? `${shortFlagOf(command, opt.long)}, ${opt.flags}` : opt.flags) };
}

export function expandShortFlags(argv: string[]): string[] {
  for (const [command, flags] of Object.entries(SHORT_FLAGS)) {
    const at = argv.indexOf(command);
    if (at < 0) continue;
    let end = argv.indexOf('--', at);
    if (end < 0) end = argv.length;
    argv = argv.map((a, i) => {
      if (i <= at || i >= end) return a;
      const [flag, ...value] = a.split('=');
      const long = flags[flag];
      return long ? [long, ...value].join('=') : a;
    });
  }
  return argv;
}
