import { ApplicationFailure, MetricMeter, MetricTags } from '@temporalio/common';
import { forwardingMeter, replayMetric } from '../../src/agent/forwarded-metrics';
import { encodeLine, LineSplitter, MetricEvent, nodeSideConfig, parseAgentMessage, parseStepRequest } from '../../src/agent/protocol';
import { rebuiltFailure } from '../../src/agent/remote';
import { failureInfo } from '../../src/agent/serve';
import { keptAlive, runStep, step } from '../../src/activities/step-context';
import { buildMedusaConfig } from '../../src/config/medusa-config';
import { MarkedOutput } from '../../src/nodes/ssh/session-marker';

const hostNames = { getfqdn: (n?: string) => n ?? 'node1.example', resolveName: () => '10.0.0.1' };

test('messages are single JSON lines; anything else on the node\'s stdout (a login script) is not a message', () => {
  const lines = new LineSplitter();
  const text = `Welcome to node1\n${encodeLine({ hello: { version: '1.2.3', node: 'v20.17.0', pid: 7 } })}${encodeLine({ heartbeat: { filesDone: 2 } })}{"resu`;
  const got = lines.push(Buffer.from(text));
  expect(got.map(parseAgentMessage)).toEqual([undefined, { hello: { version: '1.2.3', node: 'v20.17.0', pid: 7 } }, { heartbeat: { filesDone: 2 } }]);
  expect(lines.push('lt": 5}\n').map(parseAgentMessage)).toEqual([{ result: 5 }]);
  expect(parseAgentMessage('{"other": 1}')).toBeUndefined();
  expect(parseAgentMessage('{"result": 1, "failure": {}}')).toBeUndefined();
  expect(lines.push('tail without newline')).toEqual([]);
  expect(lines.end()).toEqual(['tail without newline']);
});

test('a step request needs a step and a configuration', () => {
  expect(parseStepRequest('{"step": "uploadFiles", "input": {}, "config": {"file": "x"}}')).toMatchObject({ step: 'uploadFiles' });
  expect(parseStepRequest('{"step": "uploadFiles"}')).toBe('the request has no step or no configuration');
  expect(parseStepRequest('nope')).toMatch(/^the request is not JSON/);
});

test('the node is sent the worker\'s configuration with the storage credentials, and without passwords, SSH key or Temporal', () => {
  const config = buildMedusaConfig('m.ini', {
    storage: { storage_provider: 's3', bucket_name: 'b', key_file: '/etc/medusa/credentials', prefix: 'p1' },
    cassandra: { cql_username: 'u', cql_password: 'cql-secret', nodetool_password: 'jmx-secret' },
    ssh: { key_file: '/keys/ssh_id' },
    temporal: { address: 'temporal:7233' },
  }, {}, { env: {}, hostNames, home: '/root' });
  const sent = nodeSideConfig(config, { accessKeyId: 'AK', secretAccessKey: 'SK' });
  expect(sent.storage).toMatchObject({ bucketName: 'b', prefix: 'p1', keyFile: undefined, credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' } });
  expect(sent.cassandra).toMatchObject({ cqlUsername: 'u', cqlPassword: undefined, nodetoolPassword: undefined });
  expect(sent.ssh.keyFile).toBeUndefined();
  expect(sent.temporal).toEqual({});
  expect(JSON.stringify(sent)).not.toMatch(/cql-secret|jmx-secret|ssh_id|temporal:7233/);
});

test('a failure crosses over with its message, type and retry verdict', () => {
  const permanent = rebuiltFailure(failureInfo(ApplicationFailure.nonRetryable('127.0.0.3: upload: no such bucket', 'StorageConfigError')));
  expect(permanent).toBeInstanceOf(ApplicationFailure);
  expect(permanent).toMatchObject({ message: '127.0.0.3: upload: no such bucket', type: 'StorageConfigError', nonRetryable: true });
  const transient = rebuiltFailure(failureInfo(ApplicationFailure.retryable('reset', 'Error')));
  expect(transient).toMatchObject({ type: 'Error', nonRetryable: false });
  const plain = rebuiltFailure(failureInfo(Object.assign(new Error('aborted'), { name: 'AbortError' })));
  expect(plain).not.toBeInstanceOf(ApplicationFailure);
  expect(plain).toMatchObject({ name: 'AbortError', message: 'aborted' });
});

test('metrics recorded on the node are replayed into the central meter with their tags', () => {
  const events: MetricEvent[] = [];
  const node = forwardingMeter((e) => events.push(e)).withTags({ fqdn: 'n1' });
  node.createCounter('medusa_backup_uploaded_bytes_total', 'By', 'bytes').add(10, { mode: 'full' });
  node.createHistogram('medusa_backup_duration_seconds', 'float', 's').withTags({ mode: 'full' }).record(4.5);
  node.createGauge('medusa_backup_last_success_timestamp_seconds', 'float', 's').set(1700000000, { mode: 'full' });
  const seen: string[] = [];
  const record = (kind: string, name: string) => (value: number, tags?: MetricTags) => seen.push(`${kind} ${name} ${value} ${JSON.stringify(tags)}`);
  const central = {
    createCounter: (name: string) => ({ add: record('counter', name) }),
    createHistogram: (name: string) => ({ record: record('histogram', name) }),
    createGauge: (name: string) => ({ set: record('gauge', name) }),
  } as unknown as MetricMeter;
  for (const e of JSON.parse(JSON.stringify(events)) as MetricEvent[]) replayMetric(central, e);
  expect(seen).toEqual([
    'counter medusa_backup_uploaded_bytes_total 10 {"fqdn":"n1","mode":"full"}',
    'histogram medusa_backup_duration_seconds 4.5 {"fqdn":"n1","mode":"full"}',
    'gauge medusa_backup_last_success_timestamp_seconds 1700000000 {"fqdn":"n1","mode":"full"}',
  ]);
});

test('a kept-alive step heartbeats on its own, repeating its last progress (and the previous attempt\'s checkpoint before any)', async () => {
  jest.useFakeTimers();
  try {
    const beats: unknown[] = [];
    const context = { signal: new AbortController().signal, heartbeat: (d?: unknown) => beats.push(d), metricMeter: step().metricMeter, heartbeatDetails: { done: 3 }, watchBandwidth: () => () => undefined };
    let release!: () => void;
    const body = keptAlive(async () => {
      await new Promise<void>((r) => (release = r));
      step().heartbeat({ done: 5 });
      await new Promise<void>((r) => (release = r));
      return 'ok';
    }, 1000);
    const running = runStep(context, () => body());
    await jest.advanceTimersByTimeAsync(2100);
    release();
    await jest.advanceTimersByTimeAsync(1000);
    release();
    expect(await running).toBe('ok');
    expect(beats).toEqual([{ done: 3 }, { done: 3 }, { done: 5 }, { done: 5 }]);
  } finally {
    jest.useRealTimers();
  }
});

test('a marked channel output with a sink passes the command\'s own output on as it comes, not the login noise', () => {
  const got: string[] = [];
  let pgid: number | undefined;
  const out = new MarkedOutput((g) => (pgid = g), (c) => got.push(c.toString()));
  out.push(Buffer.from('motd line\nmedusa-exec-pgid=4'));
  out.push(Buffer.from('2\n{"hello"'));
  out.push(Buffer.from(':1}\n'));
  expect(pgid).toBe(42);
  expect(got.join('')).toBe('{"hello":1}\n');
  expect(out.text()).toBe('');
});
