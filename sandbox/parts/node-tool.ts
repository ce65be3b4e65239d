/**
 * This tool on every sandbox host, as Medusa users install Medusa on every node: the release artifact
 * (`npm run release`, scripts/release.sh) built from this checkout, installed with the README's one command
 * (`npm install -g`, here with `--prefix` into the cache beside the artifact); every host mounts <sandbox>/node-tool
 * at /opt/medusa-temporal, and /opt/medusa-temporal/current/bin (`current` links to the installation of the latest
 * artifact) is on the PATH of SSH sessions, so `medusa` there is the installed, compiled tool.
 *
 * The artifact is cached by a hash of what goes into it (sources, bin, package files, the build script), so it is
 * built and installed again only when the code changed (every sandbox of the machine shares both), and a running
 * sandbox picks up a new one at the next `up` or test run: `current` is swapped by a rename, so a host never sees a
 * half-installed tool, even while a test run uses it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { SandboxError } from '../proc';
import { SandboxSettings } from '../settings';

const run = promisify(execFile);
const repoRoot = resolve(__dirname, '..', '..');

/** Where every host sees the installations. */
export const NODE_TOOL_PATH = '/opt/medusa-temporal';

/** The installation in use, as every host sees it (its bin/ is on the PATH of SSH sessions). */
export const NODE_TOOL_CURRENT = `${NODE_TOOL_PATH}/current`;

/** The installations' directory on the real file system (mounted at {@link NODE_TOOL_PATH} in each host). */
export function nodeToolDir(s: SandboxSettings): string {
  return join(s.dir, 'node-tool');
}

/** The current installation on the real file system. */
export function nodeToolInstall(s: SandboxSettings): string {
  return join(nodeToolDir(s), 'current');
}

const INPUTS = ['src', 'bin', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/release.sh'];

function filesBelow(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).sort().flatMap((name) => filesBelow(join(path, name)));
}

/** A hash of everything the artifact is built from. */
export function artifactHash(): string {
  const h = createHash('sha256');
  for (const input of INPUTS) {
    for (const f of filesBelow(join(repoRoot, input))) h.update(`${f.slice(repoRoot.length)}\0`).update(readFileSync(f)).update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

async function buildArtifact(s: SandboxSettings, hash: string, log: (line: string) => void): Promise<string> {
  const root = join(s.cache, 'node-tool');
  const dir = join(root, hash);
  const built = existsSync(dir) ? readdirSync(dir).find((n) => n.endsWith('.tgz')) : undefined;
  if (built) return join(dir, built);
  log('building the release artifact (scripts/release.sh; about two minutes, once per change of the code)');
  // Older artifacts and their installations are of no further use.
  if (existsSync(root)) for (const old of readdirSync(root)) rmSync(join(root, old), { recursive: true, force: true });
  try {
    const { stdout } = await run('bash', [join(repoRoot, 'scripts', 'release.sh'), `${dir}.tmp`], { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024 });
    const artifact = stdout.trim().split('\n').pop()!;
    rmSync(dir, { recursive: true, force: true });
    await run('mv', [`${dir}.tmp`, dir]);
    return join(dir, artifact.slice(artifact.lastIndexOf('/') + 1));
  } catch (e) {
    rmSync(`${dir}.tmp`, { recursive: true, force: true });
    const err = e as { stderr?: string; message: string };
    throw new SandboxError(`building the release artifact failed (scripts/release.sh): ${(err.stderr ?? err.message).trim().split('\n').slice(-3).join(' | ')}`);
  }
}

/** Builds (cached) and installs the artifact of this checkout into the sandbox's node-tool directory; returns the artifact. */
export async function installNodeTool(s: SandboxSettings, log: (line: string) => void = () => {}): Promise<string> {
  const hash = artifactHash();
  const artifact = await buildArtifact(s, hash, log);
  // Installed once per artifact, beside it in the cache (the hosts see the cache at the same path).
  const target = join(dirname(artifact), 'install');
  if (!existsSync(target)) {
    log(`installing ${artifact.slice(artifact.lastIndexOf('/') + 1)} for the hosts (npm install -g, into ${target})`);
    rmSync(`${target}.tmp`, { recursive: true, force: true });
    try {
      await run('npm', ['install', '-g', '--prefix', `${target}.tmp`, '--offline', '--no-audit', '--no-fund', '--loglevel=error', artifact], { maxBuffer: 64 * 1024 * 1024 });
    } catch (e) {
      rmSync(`${target}.tmp`, { recursive: true, force: true });
      const err = e as { stderr?: string; message: string };
      throw new SandboxError(`installing ${artifact} failed: ${(err.stderr ?? err.message).trim().split('\n').slice(-3).join(' | ')}`);
    }
    renameSync(`${target}.tmp`, target);
  }
  const dir = nodeToolDir(s);
  const current = nodeToolInstall(s);
  if (existsSync(current) && readlinkSync(current) === target) return artifact;
  mkdirSync(dir, { recursive: true });
  rmSync(`${current}.new`, { force: true });
  symlinkSync(target, `${current}.new`);
  renameSync(`${current}.new`, current);
  // Installations made inside the sandbox by earlier versions of this script.
  for (const name of readdirSync(dir)) if (name !== 'current') rmSync(join(dir, name), { recursive: true, force: true });
  return artifact;
}
