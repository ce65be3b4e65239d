/**
 * The central side of a node-side step (`[orchestration] node_access = ssh`, the default): log into
 * the node, start this tool there (`node_command node-agent`), check that it is this worker's
 * version, send it the step and the configuration over its stdin, and relay what it reports —
 * heartbeats to Temporal, metrics to this worker's meter — until its result or failure. The agent
 * then waits, idle, for the node's next step (a few seconds), so that a backup's steps share one
 * login and one start of the tool. The node moves the bytes; this side carries control and progress only.
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
import type { CommandResult } from '../nodes/node-access';
import type { Conversation, SshNodeAccess } from '../nodes/ssh-node-access';
import { replayMetric } from './forwarded-metrics';
import { AGENT_SUBCOMMAND, AgentHello, AgentMessage, encodeLine, FailureInfo, LineSplitter, nodeSideConfig, parseAgentMessage, StorageCredentials } from './protocol';

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

/** How long a node's tool waits, idle, for the next step of its node before it is let go. */
export const AGENT_IDLE_MS = 10_000;

/**
 * `medusa node-agent` started on a node, serving one step at a time: the steps of a node's backup or
 * restore follow each other within a second, and a new login and tool start (~0.5 s each) for each
 * would cost more than most steps. Between steps it waits in this worker's pool (at most {@link AGENT_IDLE_MS});
 * a step that is cancelled, falls silent or loses its process takes the agent with it.
 */
interface Agent {
  readonly key: string;
  readonly node: SshNodeAccess;
  readonly talk: Conversation;
  /** Aborting kills the node's process group. */
  readonly kill: AbortController;
  /** Its hello; rejects when the process ends before saying it. */
  readonly hello: Promise<AgentHello>;
  /** Settles when the process has ended (the exit status, or why the channel failed). */
  readonly ended: Promise<{ exit?: CommandResult; error?: unknown }>;
  done: boolean;
  /** The running step's handler of what the node says. */
  onMessage?: (m: Exclude<AgentMessage, { hello: AgentHello }>) => void;
  idle?: NodeJS.Timeout;
}

/** Idle agents by worker context, then by node and command. */
const idleAgents = new WeakMap<ActivityContext, Map<string, Agent[]>>();

function takeIdle(ctx: ActivityContext, key: string): Agent | undefined {
  const list = idleAgents.get(ctx)?.get(key) ?? [];
  for (let a = list.pop(); a; a = list.pop()) {
    clearTimeout(a.idle);
    if (!a.done) return a;
  }
  return undefined;
}

function putIdle(ctx: ActivityContext, a: Agent): void {
  a.onMessage = undefined;
  let byKey = idleAgents.get(ctx);
  if (!byKey) idleAgents.set(ctx, byKey = new Map());
  const list = byKey.get(a.key) ?? [];
  byKey.set(a.key, list);
  list.push(a);
  a.idle = setTimeout(() => {
    // Never splice(-1): an agent taken meanwhile is no longer in the list.
    const at = list.indexOf(a);
    if (at >= 0) list.splice(at, 1);
    void a.node.close();
  }, AGENT_IDLE_MS);
  a.idle.unref();
}

async function startAgent(ctx: ActivityContext, fqdn: string, command: string, key: string): Promise<Agent> {
  const node = await ctx.openSshNode(fqdn);
  const kill = new AbortController();
  const lines = new LineSplitter();
  let said!: (h: AgentHello) => void;
  let silent!: (err: Error) => void;
  const hello = new Promise<AgentHello>((resolve, reject) => { said = resolve; silent = reject; });
  hello.catch(() => undefined);
  const self: { agent?: Agent } = {};
  const talk = node.converse(command, {
    signal: kill.signal,
    onStdout: (chunk) => {
      for (const line of lines.push(chunk)) {
        const m = parseAgentMessage(line);
        if (!m) continue;
        if ('hello' in m) said(m.hello);
        else self.agent?.onMessage?.(m);
      }
    },
  });
  const ended = talk.result.then((exit) => ({ exit }), (error: unknown) => ({ error })).then((r) => {
    self.agent!.done = true;
    silent(new Error('ended before its hello'));
    void node.close();
    return r;
  });
  self.agent = { key, node, talk, kill, hello, ended, done: false };
  return self.agent;
}

async function converse(ctx: ActivityContext, version: string, r: NodeStep): Promise<Outcome> {
  const outer = step();
  const silence = new AbortController();
  const signal = AbortSignal.any([outer.signal, silence.signal]);
  const command = agentCommand(ctx);
  const key = `${r.fqdn}\n${command}`;
  const request = encodeLine({ step: r.step, input: r.input, config: nodeSideConfig(ctx.config, credentialsOf(ctx)), heartbeatDetails: outer.heartbeatDetails });
  const agent = takeIdle(ctx, key) ?? await startAgent(ctx, r.fqdn, command, key);
  const stop = () => agent.kill.abort(signal.reason);
  signal.addEventListener('abort', stop, { once: true });
  if (signal.aborted) stop();
  let watchdog: NodeJS.Timeout | undefined;
  const heard = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => silence.abort(new Error(`no word from the node-side process for ${SILENCE_MS / 1000} s`)), SILENCE_MS);
  };
  // A new bandwidth limit for the running workflow goes down the channel once the node has the request.
  let requested = false;
  let bandwidth: number | undefined;
  const stopWatching = TRANSFER_STEPS.has(r.step) ? outer.watchBandwidth((bps) => {
    bandwidth = bps;
    if (requested) agent.talk.write(encodeLine({ bandwidth: bps }));
  }) : () => undefined;
  let outcome: Outcome | undefined;
  let settle!: () => void;
  const answered = new Promise<void>((resolve) => { settle = resolve; });
  let kept = false;
  try {
    heard();
    const hello = await Promise.race([agent.hello, agent.ended.then(() => undefined)]).catch(() => undefined);
    if (hello && hello.version !== version) {
      agent.kill.abort();
      throw ApplicationFailure.nonRetryable(`${r.fqdn}: the node runs medusa-temporal ${hello.version} (${command}), this worker ${version}: ${installHint(version)}`, 'NodeToolMismatch');
    }
    if (hello) {
      agent.onMessage = (m) => {
        heard();
        if ('heartbeat' in m) outer.heartbeat(m.heartbeat ?? undefined);
        else if ('metric' in m) replayMetric(outer.metricMeter, m.metric);
        else if ('result' in m) { outcome = { result: m.result }; settle(); }
        else { outcome = { failure: m.failure }; settle(); }
      };
      agent.talk.write(request);
      requested = true;
      if (bandwidth !== undefined) agent.talk.write(encodeLine({ bandwidth }));
      await Promise.race([answered, agent.ended]);
    }
    if (outcome && !signal.aborted && !agent.done) {
      putIdle(ctx, agent);
      kept = true;
      return outcome;
    }
    if (!agent.done) agent.kill.abort(signal.reason);
    const { exit, error } = await agent.ended;
    if (signal.aborted) {
      if (outer.signal.aborted) throw abortError(outer.signal, `${command} on ${r.fqdn}`);
      throw ApplicationFailure.retryable(`${r.fqdn}: ${r.label}: ${(silence.signal.reason as Error).message}; it was stopped`, 'NodeSilent');
    }
    if (outcome) return outcome;
    if (error !== undefined || !exit) throw error;
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
    signal.removeEventListener('abort', stop);
    if (!kept) {
      agent.onMessage = undefined;
      if (!agent.done) agent.kill.abort();
      await agent.ended;
    }
  }
}
