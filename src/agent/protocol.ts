/**
 * The conversation between a central worker and `medusa node-agent`, the node-side process it
 * starts over SSH to run steps where the data is (planning, hashing, upload, download), one at a
 * time. One JSON object a line:
 *
 *   node → central   {"hello": {version, node, pid}}          first, before anything is read
 *   central → node   {"step": name, "input": …, "config": …}  one line; stdin stays open, and its
 *                                                             end (the channel closed) cancels the step
 *   node → central   {"heartbeat": details}                   progress, at least every few seconds
 *                    {"metric": {kind, name, …, value, tags}}  the step's metrics, replayed centrally
 *                    {"result": …} | {"failure": {…}}         last
 *   central → node   {"bandwidth": bytesPerSecond}            after the request, whenever the running workflow's
 *                                                             transfer_max_bandwidth changes (0 = unlimited)
 *   central → node   the next request, once the last one has its result or failure; the agent
 *                    waits for it until the channel closes
 *
 * The configuration in the request carries the storage credentials (read from the worker's key
 * file), so they never appear on a command line, in the node's environment, in a file on the node
 * or in a workflow history. Pure: encoding, decoding and what the node is sent.
 */
import type { MedusaConfig } from '../config/medusa-config';
import type { MetricKind, MetricTags, NumericMetricValueType } from '@temporalio/common';

/** The hidden subcommand of `medusa` that serves steps on a node. */
export const AGENT_SUBCOMMAND = 'node-agent';

export interface AgentHello {
  /** The product version of the node's tool; it must be the worker's own. */
  version: string;
  /** Node.js version on the node. */
  node: string;
  pid: number;
}

export interface StepRequest {
  step: string;
  input: unknown;
  config: MedusaConfig;
  /** What the previous attempt of the step last heartbeated (the central activity's info), to resume from. */
  heartbeatDetails?: unknown;
}

export interface MetricEvent {
  kind: MetricKind;
  name: string;
  unit?: string;
  description?: string;
  valueType?: NumericMetricValueType;
  value: number;
  tags: MetricTags;
}

/** A failed step, as the central worker rebuilds it (an ApplicationFailure keeps its type and retry verdict). */
export interface FailureInfo {
  message: string;
  /** The error's class name (AbortError, …). */
  name: string;
  /** The ApplicationFailure type, when it was one. */
  type?: string;
  nonRetryable?: boolean;
}

export type AgentMessage =
  | { hello: AgentHello }
  | { heartbeat: unknown }
  | { metric: MetricEvent }
  | { result: unknown }
  | { failure: FailureInfo };

export function encodeLine(message: AgentMessage | StepRequest | ControlMessage): string {
  return `${JSON.stringify(message)}\n`;
}

/** A message of the node's output, or undefined for anything else on stdout (a login script's noise). */
export function parseAgentMessage(line: string): AgentMessage | undefined {
  if (!line.startsWith('{')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!v || typeof v !== 'object') return undefined;
  const keys = Object.keys(v);
  return keys.length === 1 && ['hello', 'heartbeat', 'metric', 'result', 'failure'].includes(keys[0]) ? (v as AgentMessage) : undefined;
}

/** What the central side may send after the request. */
export interface ControlMessage {
  bandwidth: number;
}

/** A control line from the central side, or undefined for anything else. */
export function parseControlMessage(line: string): ControlMessage | undefined {
  try {
    const v = JSON.parse(line) as Partial<ControlMessage> | null;
    return v && typeof v.bandwidth === 'number' && Number.isFinite(v.bandwidth) && v.bandwidth >= 0 ? { bandwidth: v.bandwidth } : undefined;
  } catch {
    return undefined;
  }
}

/** The step request a node reads first, or a one-line reason why it is not one. */
export function parseStepRequest(line: string): StepRequest | string {
  try {
    const v = JSON.parse(line) as Partial<StepRequest>;
    if (typeof v.step === 'string' && v.config && typeof v.config === 'object') return v as StepRequest;
    return 'the request has no step or no configuration';
  } catch (err) {
    return `the request is not JSON (${(err as Error).message})`;
  }
}

/** Splits a byte stream into lines (UTF-8), keeping a partial last line for the next chunk. */
export class LineSplitter {
  private rest = '';

  push(chunk: Buffer | string): string[] {
    const text = this.rest + (typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    return lines;
  }

  /** What is left after the last newline (a line the stream ended in the middle of). */
  end(): string[] {
    const r = this.rest;
    this.rest = '';
    return r ? [r] : [];
  }
}

export interface StorageCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * The configuration a node-side step runs with: the worker's own, so that a run started from the
 * UI or a schedule follows one source of truth, with the storage credentials resolved (the node has
 * no copy of the key file) and what the node does not need left out: CQL and JMX passwords, SSH
 * keys, the Temporal connection.
 */
export function nodeSideConfig(c: MedusaConfig, credentials: StorageCredentials | undefined): MedusaConfig {
  return {
    file: c.file,
    storage: { ...c.storage, keyFile: undefined, credentials },
    cassandra: { ...c.cassandra, cqlPassword: undefined, nodetoolPassword: undefined },
    ssh: { ...c.ssh, keyFile: undefined },
    checks: c.checks,
    orchestration: c.orchestration,
    temporal: {},
  };
}
