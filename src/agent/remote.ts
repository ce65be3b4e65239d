/**
 * The central side of a node-side step (`[orchestration] node_access = ssh`, the default): log into
 * the node, start this tool there (`node_command node-agent`), check that it is this worker's
 * version, send it the step and the configuration over its stdin, and relay what it reports —
 * heartbeats to Temporal, metrics to this worker's meter — until its result or failure. The node
 * moves the bytes; this side carries control and progress only.
 *
 * Cancellation (and this worker's shutdown) kills the node's process group; a node that falls
 * silent for a minute is stopped and the step failed as retryable, so a retry starts over on a
 * fresh agent, which skips what is complete in storage or on the node.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityContext } from '../activities/context';
import { readAwsCredentials } from '../activities/context';
import { classify } from '../activities/failures';
import { step } from '../activities/step-context';
import { TRANSFER_STEPS } from '../activities/live-bandwidth';
import { shellQuote } from '../nodes/node-access';
import { abortError } from '../nodes/abort-error';
import { replayMetric } from './forwarded-metrics';
import { AGENT_SUBCOMMAND, AgentHello, encodeLine, FailureInfo, LineSplitter, nodeSideConfig, parseAgentMessage, StorageCredentials } from './protocol';

/** A node-side process that reports nothing for this long is taken for hung (it heartbeats every 10 s). */
export const SILENCE_MS = 60_000;

export interface NodeStep {
  fqdn: string;
  step: string;
  /** The step as error messages name it (`upload`, `plan uploads`, …). */
  label: string;
  input: unknown;
}

/** How the node's tool is started: Medusa's `use_sudo` prefixes remote medusa commands with sudo, as here. */
export function agentCommand(ctx: ActivityContext): string {
  const sudo = ctx.config.cassandra.useSudo && ctx.config.ssh.username !== 'root' ? 'sudo -n ' : '';
  return `${sudo}${ctx.config.orchestration.nodeCommand} ${AGENT_SUBCOMMAND}`;
}

function installHint(version: string): string {
  return `install medusa-temporal ${version} on the node (npm install -g ./medusa-temporal-${version}.tgz; see the README), `
    + 'or point [orchestration] node_command at it, or set [orchestration] node_access = agentless to pull the files over SFTP instead';
}

/** The error a step failure reported by the node becomes here: the same message, type and retry verdict. */
export function rebuiltFailure(f: FailureInfo): Error {
  if (f.type !== undefined || f.name === 'ApplicationFailure') {
    return ApplicationFailure.create({ message: f.message, type: f.type ?? 'Error', nonRetryable: f.nonRetryable ?? false });
  }
  return Object.assign(new Error(f.message), { name: f.name });
}

function credentialsOf(ctx: ActivityContext): StorageCredentials | undefined {
  const s = ctx.config.storage;
  if (s.credentials) return s.credentials;
  return s.keyFile && s.storageProvider !== 'local' ? readAwsCredentials(s.keyFile, s.apiProfile) : undefined;
}

type Outcome = { result: unknown } | { failure: FailureInfo };

/**
 * Runs one activity of the node-side steps on `fqdn` and returns its result. What goes wrong on the way
 * (SSH, the tool missing or of another version, a lost process) is reported like any activity's failure,
 * `<fqdn>: <label>: …`; the step's own failure on the node comes back as the node reported it (and counted
 * there, in the metrics it forwarded).
 */
export async function runOnNode(ctx: ActivityContext, version: string, r: NodeStep): Promise<unknown> {
  const outcome = await classify(r.fqdn, r.label, () => converse(ctx, version, r));
  if ('result' in outcome) return outcome.result;
  throw rebuiltFailure(outcome.failure);
}

async function converse(ctx: ActivityContext, version: string, r: NodeStep): Promise<Outcome> {
  const outer = step();
  const silence = new AbortController();
  const signal = AbortSignal.any([outer.signal, silence.signal]);
  const command = agentCommand(ctx);
  const request = encodeLine({ step: r.step, input: r.input, config: nodeSideConfig(ctx.config, credentialsOf(ctx)), heartbeatDetails: outer.heartbeatDetails });
  const node = await ctx.openSshNode(r.fqdn);
  let hello: AgentHello | undefined;
  let outcome: Outcome | undefined;
  let refused: Error | undefined;
  let watchdog: NodeJS.Timeout | undefined;
  // A new bandwidth limit for the running workflow goes down the channel once the node has the request.
  let requested = false;
  let bandwidth: number | undefined;
  let talk: ReturnType<typeof node.converse> | undefined;
  const stopWatching = TRANSFER_STEPS.has(r.step) ? outer.watchBandwidth((bps) => {
    bandwidth = bps;
    if (requested) talk?.write(encodeLine({ bandwidth: bps }));
  }) : () => undefined;
  const heard = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => silence.abort(new Error(`no word from the node-side process for ${SILENCE_MS / 1000} s`)), SILENCE_MS);
  };
  try {
    heard();
    const lines = new LineSplitter();
    talk = node.converse(command, {
      signal,
      onStdout: (chunk) => {
        for (const line of lines.push(chunk)) {
          const m = parseAgentMessage(line);
          if (!m) continue;
          heard();
          if ('hello' in m) {
            hello = m.hello;
            if (hello.version !== version) {
              refused = ApplicationFailure.nonRetryable(
                `${r.fqdn}: the node runs medusa-temporal ${hello.version} (${command}), this worker ${version}: ${installHint(version)}`, 'NodeToolMismatch');
              silence.abort(refused);
            } else {
              talk!.write(request);
              requested = true;
              if (bandwidth !== undefined) talk!.write(encodeLine({ bandwidth }));
            }
          } else if ('heartbeat' in m) {
            outer.heartbeat(m.heartbeat ?? undefined);
          } else if ('metric' in m) {
            replayMetric(outer.metricMeter, m.metric);
          } else if ('result' in m) {
            outcome = { result: m.result };
          } else {
            outcome = { failure: m.failure };
          }
        }
      },
    });
    let exit;
    try {
      exit = await talk.result;
    } catch (err) {
      if (refused) throw refused;
      if (outer.signal.aborted) throw abortError(outer.signal, `${command} on ${r.fqdn}`);
      if (silence.signal.aborted) throw ApplicationFailure.retryable(`${r.fqdn}: ${r.label}: ${(silence.signal.reason as Error).message}; it was stopped`, 'NodeSilent');
      throw err;
    }
    if (outcome) return outcome;
    const stderr = exit.stderr.trim().split('\n').filter(Boolean).slice(-2).join(' | ');
    if (!hello && (exit.code === 127 || exit.code === 126)) {
      throw ApplicationFailure.nonRetryable(`${r.fqdn}: cannot run ${shellQuote(command)} on the node (exit ${exit.code}: ${stderr || 'not found'}): ${installHint(version)}`, 'NodeToolMissing');
    }
    if (!hello) {
      throw ApplicationFailure.nonRetryable(`${r.fqdn}: ${command} did not start on the node (exit ${exit.code ?? exit.signal}${stderr ? `: ${stderr}` : ''}): ${installHint(version)}`, 'NodeToolFailed');
    }
    throw ApplicationFailure.retryable(`${r.fqdn}: ${r.label}: the node-side process ended without a result (exit ${exit.code ?? exit.signal}${stderr ? `: ${stderr}` : ''})`, 'NodeStepLost');
  } finally {
    stopWatching();
    clearTimeout(watchdog);
    await node.close();
  }
}
