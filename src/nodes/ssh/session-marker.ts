/**
 * Marking where a command's own output begins on an SSH exec channel, and learning its process
 * group: the login shell prints a marker line carrying `$$` to stdout and stderr before it runs
 * the command. sshd makes that shell a session leader (setsid), so `$$` is also the process group
 * of everything the command starts, which is what an abort has to kill. Anything before the
 * marker is login-shell noise (.bashrc output such as "mesg: ttyname failed") and is dropped.
 */

const TAG = 'medusa-exec-pgid=';

/** Prefix for a command string run by the remote login shell. */
export const MARKER_PREFIX = `printf '${TAG}%s\\n' $$; printf '${TAG}%s\\n' $$ >&2; `;

/**
 * Collects one stream of the channel, splitting off everything up to and including the marker.
 * With a `sink`, the command's own output goes there chunk by chunk instead of being kept.
 */
export class MarkedOutput {
  private chunks: Buffer[] = [];
  private seen = false;
  /** The process group from the marker, once seen. */
  pgid: number | undefined;

  constructor(private readonly onPgid?: (pgid: number) => void, private readonly sink?: (chunk: Buffer) => void) {}

  push(chunk: Buffer): void {
    if (this.seen) return this.keep(chunk);
    this.chunks.push(chunk);
    const all = Buffer.concat(this.chunks);
    const at = all.indexOf(TAG);
    const eol = at < 0 ? -1 : all.indexOf('\n', at);
    if (eol < 0) {
      this.chunks = [all];
      return;
    }
    this.seen = true;
    this.pgid = Number(all.subarray(at + TAG.length, eol).toString('latin1'));
    this.chunks = [];
    this.onPgid?.(this.pgid);
    if (eol + 1 < all.length) this.keep(all.subarray(eol + 1));
  }

  /** Collects without looking for a marker (commands started without the prefix). */
  pushRaw(chunk: Buffer): void {
    this.seen = true;
    this.keep(chunk);
  }

  private keep(chunk: Buffer): void {
    if (this.sink) this.sink(chunk);
    else this.chunks.push(chunk);
  }

  /** The command's output; everything, if the marker never came (the login shell failed first). */
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
