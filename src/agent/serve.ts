/**
 * `medusa node-agent`: the node side of a step the central worker runs where the data is. Started
 * over SSH, it says hello (its version), reads one request line (step, input, configuration with
 * the storage credentials) from stdin, runs the step with direct access to this node's files and
 * storage, and writes heartbeats, metrics and finally the result or failure to stdout
 * (src/agent/protocol.ts). The end of stdin — the channel closed because the central worker went
 * away or cancelled — and SIGTERM/SIGHUP/SIGINT cancel the step; a retry starts a new agent, which
 * skips what is already complete.
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

/** Reads the first line of `input` (undefined when it ends first), and the lines that came with it. */
function firstLine(input: Readable, lines: LineSplitter): Promise<{ first: string | undefined; more: string[] }> {
  return new Promise((resolve) => {
    const onData = (chunk: Buffer) => {
      const got = lines.push(chunk);
      if (got.length > 0) {
        input.off('data', onData);
        input.off('end', onEnd);
        input.pause();
        resolve({ first: got[0], more: got.slice(1) });
      }
    };
    const onEnd = () => resolve({ first: lines.end()[0], more: [] });
    input.on('data', onData).once('end', onEnd);
  });
}

/** Serves one step; resolves with the exit status once the last message is written. */
export async function serveNodeAgent(io: AgentIo): Promise<number> {
  const controller = new AbortController();
  const stop = (why: string) => {
    if (!controller.signal.aborted) controller.abort(Object.assign(new Error(why), { name: 'AbortError' }));
  };
  // A closed pipe (the central side is gone) must stop the step, not crash the process.
  io.output.on('error', () => stop('the central worker closed the channel'));
  const send = (m: AgentMessage) => {
    if (!io.output.destroyed) io.output.write(encodeLine(m));
  };
  const signals = ['SIGTERM', 'SIGHUP', 'SIGINT'] as const;
  const onSignal = (sig: string) => stop(`stopped by ${sig}`);
  for (const s of signals) process.on(s, onSignal);
  try {
    send({ hello: { version: io.version, node: process.version, pid: process.pid } });
    const lines = new LineSplitter();
    const { first: line, more } = await firstLine(io.input, lines);
    if (line === undefined) return 2;
    const request: StepRequest | string = parseStepRequest(line);
    if (typeof request === 'string') {
      send({ failure: { message: `node-agent: ${request}`, name: 'BadInput', type: 'BadInput', nonRetryable: true } });
      return 2;
    }
    // After the request, the central side sends only control lines: each new bandwidth limit goes to the step's watchers.
    const watchers = new Set<(bps: number) => void>();
    let bandwidth: number | undefined;
    const control = (l: string) => {
      const m = parseControlMessage(l);
      if (!m) return;
      bandwidth = m.bandwidth;
      for (const w of watchers) w(m.bandwidth);
    };
    more.forEach(control);
    io.input.on('data', (chunk: Buffer) => lines.push(chunk).forEach(control));
    io.input.once('end', () => stop('the central worker closed the channel')).once('close', () => stop('the central worker closed the channel'));
    io.input.resume();
    if (!isNodeSideStep(request.step)) {
      send({ failure: { message: `node-agent: ${request.step} is not a step this tool runs on a node`, name: 'BadInput', type: 'BadInput', nonRetryable: true } });
      return 2;
    }
    const activities = createActivities({ version: io.version, context: createActivityContext(request.config, 'local') });
    const run = activities[request.step] as (input: unknown) => Promise<unknown>;
    const context = {
      signal: controller.signal,
      heartbeat: (details?: unknown) => send({ heartbeat: details ?? null }),
      metricMeter: forwardingMeter((metric) => send({ metric })),
      heartbeatDetails: request.heartbeatDetails,
      watchBandwidth: (apply: (bps: number) => void) => {
        watchers.add(apply);
        if (bandwidth !== undefined) apply(bandwidth);
        return () => watchers.delete(apply);
      },
    };
    try {
      const result = await runStep(context, () => run(request.input));
      send({ result: result ?? null });
      return 0;
    } catch (err) {
      send({ failure: failureInfo(controller.signal.aborted ? controller.signal.reason : err) });
      return 1;
    }
  } finally {
    for (const s of signals) process.off(s, onSignal);
  }
}
