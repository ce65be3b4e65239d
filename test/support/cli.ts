/** The real `medusa` command (bin/medusa.js) in a child process, for tests of the CLI as users run it. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const MEDUSA_BIN = join(__dirname, '..', '..', 'bin', 'medusa.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program with process.env plus `env`; stdin closed, stdout and stderr pipes (not TTYs). */
export function runProgram(command: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs `node bin/medusa.js …args` with process.env plus `env`. */
export function medusa(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return runProgram(process.execPath, [MEDUSA_BIN, ...args], env);
}

/** The lines of an output, without the final newline. */
export const lines = (text: string): string[] => text.replace(/\n$/, '').split('\n');
