/**
 * `medusa node-agent`: the node side of the steps the central worker runs where the data is. Started
 * over SSH, it says hello (its version), then serves requests one at a time: it reads a request line
 * (step, input, configuration with the storage credentials) from stdin, runs the step with direct
 * access to this node's files and storage, and writes heartbeats, metrics and finally the result or
 * failure to stdout (src/agent/protocol.ts); then it waits for the next. The end of stdin — the
 * channel closed because the central worker went away, cancelled, or let the idle agent go — and
 * SIGTERM/SIGHUP/SIGINT cancel the running step and end the process; a retry starts a new agent,
 * which skips what is already complete.
 */
import type { Readable, Writable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities, isNodeSideStep } from '../activities';
import { createActivityContext } from '../activities/context';
import { runStep } from '../activities/step-context';
import { forwardingMeter } from './forwarded-metrics';
import { AgentMessage, encodeLine, FailureInfo, LineSplitter, parseControlMessage, parseStepRequest, StepRequest } from './protocol';

export interface AgentIo {
  input: Readable;
  output: Writable;
  version: string;
}

/** What the central worker needs to rebuild an error: its text, class, and for an ApplicationFailure its type and retry verdict. */
export function failureInfo(err: unknown): FailureInfo {
  const e = err instanceof Error ? err : new Error(String(err));
  if (e instanceof ApplicationFailure) return { message: e.message, name: e.name, type: e.type ?? undefined, nonRetryable: e.nonRetryable === true };
  return { message: e.message, name: e.name };
}

/** Serves steps, one at a time, until the central side closes the channel; resolves with the exit status once the last message is written. */
export async function serveNodeAgent(io: AgentIo): Promise<number> {
  /** The step being served: its cancellation and its bandwidth watchers. */
  let running: { controller: AbortController; watchers: Set<(bps: number) => void>; bandwidth?: number } | undefined;
  let closed: Error | undefined;
  const requests: string[] = [];
  let wake: (() => void) | undefined;
  const stop = (why: string) => {
    closed ??= Object.assign(new Error(why), { name: 'AbortError' });
    if (running && !running.controller.signal.aborted) running.controller.abort(closed);
    wake?.();
  };
  // A closed pipe (the central side is gone) must stop the step, not crash the process.
  io.output.on('error', () => stop('the central worker closed the channel'));
  const send = (m: AgentMessage) => {
    if (!io.output.destroyed) io.output.write(encodeLine(m));
  };
  const signals = ['SIGTERM', 'SIGHUP', 'SIGINT'] as const;
  const onSignal = (sig: string) => stop(`stopped by ${sig}`);
  for (const s of signals) process.on(s, onSignal);
  // While a step runs the central side sends only control lines (each new bandwidth limit goes to the step's
  // watchers); between steps, the next request. A control line that comes late, between steps, is dropped.
  const onLine = (l: string) => {
    const control = parseControlMessage(l);
    if (running) {
      if (!control) return;
      running.bandwidth = control.bandwidth;
      for (const w of running.watchers) w(control.bandwidth);
    } else if (!control && l.trim()) {
      requests.push(l);
      wake?.();
    }
  };
  const lines = new LineSplitter();
  io.input.on('data', (chunk: Buffer) => lines.push(chunk).forEach(onLine));
  io.input.once('end', () => {
    lines.end().forEach(onLine);
    stop('the central worker closed the channel');
  }).once('close', () => stop('the central worker closed the channel'));
  try {
    send({ hello: { version: io.version, node: process.version, pid: process.pid } });
    let status = 0;
    for (;;) {
      if (requests.length === 0 && !closed) await new Promise<void>((resolve) => { wake = resolve; });
      wake = undefined;
      const line = requests.shift();
      if (line === undefined || closed) return status;
      status = await serveOne(io.version, line, (r) => { running = r; }, send);
      running = undefined;
    }
  } finally {
    for (const s of signals) process.off(s, onSignal);
    io.input.pause();
  }
}

/** One request: the step run with this node's files and storage, its result or failure sent; returns the step's exit status. */
async function serveOne(version: string, line: string, started: (r: { controller: AbortController; watchers: Set<(bps: number) => void>; bandwidth?: number }) => void,
  send: (m: AgentMessage) => void): Promise<number> {
  const request: StepRequest | string = parseStepRequest(line);
  if (typeof request === 'string') {
    send({ failure: { message: `node-agent: ${request}`, name: 'BadInput', type: 'BadInput', nonRetryable: true } });
    return 2;
  }
  if (!isNodeSideStep(request.step)) {
    send({ failure: { message: `node-agent: ${request.step} is not a step this tool runs on a node`, name: 'BadInput', type: 'BadInput', nonRetryable: true } });
    return 2;
  }
  const state = { controller: new AbortController(), watchers: new Set<(bps: number) => void>(), bandwidth: undefined as number | undefined };
  started(state);
  const activities = createActivities({ version: version, context: createActivityContext(request.config, 'local') });
  const run = activities[request.step] as (input: unknown) => Promise<unknown>;
  const context = {
    signal: state.controller.signal,
    heartbeat: (details?: unknown) => send({ heartbeat: details ?? null }),
    metricMeter: forwardingMeter((metric) => send({ metric })),
    heartbeatDetails: request.heartbeatDetails,
    watchBandwidth: (apply: (bps: number) => void) => {
      state.watchers.add(apply);
      if (state.bandwidth !== undefined) apply(state.bandwidth);
      return () => state.watchers.delete(apply);
    },
  };
  try {
    const result = await runStep(context, () => run(request.input));
    send({ result: result ?? null });
    return 0;
  } catch (err) {
    send({ failure: failureInfo(state.controller.signal.aborted ? state.controller.signal.reason : err) });
    return 1;
  }
}
