/**
 * What activities are built with: the worker's own configuration (with its secrets), and factories
 * for the two ports. Built once per worker in worker.ts; tests build it the same way.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'ini';
import { ConfigError, MedusaConfig, StorageConfig } from '../config/medusa-config';
import { createLocalNodeAccess } from '../nodes/local-node-access';
import { NodeAccess } from '../nodes/node-access';
import { openSshNodeAccess, SshNodeAccess } from '../nodes/ssh-node-access';
import { createLocalStorage } from '../storage/local-storage';
import { createS3Storage } from '../storage/s3-storage';
import { Storage, StorageConfigError } from '../storage/storage';

/**
 * How this worker reaches Cassandra nodes: `ssh` (a central worker: commands over SSH, and the
 * node-side steps run by this tool on the node, started over SSH), `agentless` (a central worker
 * doing everything over SSH, files pulled over SFTP) or `local` (on the node itself: a node's worker,
 * an embedded command on the node, or the node-side agent).
 */
export type NodeMode = 'ssh' | 'agentless' | 'local';

/** The mode of a central worker, from `[orchestration] node_access` (with `worker`, node steps go to the nodes' own queues). */
export function centralNodeMode(config: MedusaConfig): NodeMode {
  return config.orchestration.nodeAccess === 'agentless' ? 'agentless' : 'ssh';
}

export interface ActivityContext {
  config: MedusaConfig;
  nodeMode: NodeMode;
  /** The storage for a bucket (the configured one by default); one instance per bucket per worker. */
  storage(bucketName?: string): Storage;
  /** The node, on this machine (`local`) or over SSH. */
  openNode(fqdn: string): Promise<NodeAccess>;
  /** The node over SSH, whatever the mode (node-side steps start their agent through it). */
  openSshNode(fqdn: string): Promise<SshNodeAccess>;
}

/** Reads an AWS credentials file (Medusa's `key_file` for S3) for one profile. */
export function readAwsCredentials(file: string, profile = 'default'): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new StorageConfigError(`cannot read the storage key file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const section = (parse(text) as Record<string, Record<string, string> | undefined>)[profile];
  if (!section?.aws_access_key_id || !section.aws_secret_access_key) {
    throw new StorageConfigError(`the storage key file ${file} has no aws_access_key_id / aws_secret_access_key in profile [${profile}]`);
  }
  return { accessKeyId: section.aws_access_key_id, secretAccessKey: section.aws_secret_access_key, sessionToken: section.aws_session_token };
}

export function storageFromConfig(c: StorageConfig, bucketName = c.bucketName): Storage {
  if (c.storageProvider === 'local') return createLocalStorage({ basePath: c.basePath!, bucketName });
  const compatible = c.storageProvider !== 's3';
  const endpoint = compatible && c.host ? `${c.secure ? 'https' : 'http'}://${c.host}${c.port ? `:${c.port}` : ''}` : undefined;
  return createS3Storage({
    bucketName,
    endpoint,
    region: c.region === 'default' ? 'us-east-1' : c.region,
    forcePathStyle: c.s3AddressingStyle === 'path' || (c.s3AddressingStyle === 'auto' && endpoint !== undefined),
    credentials: c.credentials ?? (c.keyFile ? readAwsCredentials(c.keyFile, c.apiProfile) : undefined),
    multipartThreshold: c.multiPartUploadThreshold,
    multipartChunkSize: c.multipartChunkSize,
    multipartConcurrency: c.multipartMaxConcurrency,
    kmsKeyId: c.kmsId,
    sseCKey: c.sseCKey,
    storageClass: c.storageClass,
    maxBandwidthBytesPerSecond: c.transferMaxBandwidth,
  });
}

export function createActivityContext(config: MedusaConfig, nodeMode: NodeMode): ActivityContext {
  const storages = new Map<string, Storage>();
  return {
    config,
    nodeMode,
    storage(bucketName = config.storage.bucketName) {
      let s = storages.get(bucketName);
      if (!s) {
        s = storageFromConfig(config.storage, bucketName);
        storages.set(bucketName, s);
      }
      return s;
    },
    async openNode(fqdn) {
      if (nodeMode === 'local') return createLocalNodeAccess(fqdn);
      return this.openSshNode(fqdn);
    },
    async openSshNode(fqdn) {
      const ssh = config.ssh;
      if (!ssh.keyFile) throw new ConfigError(`[ssh] key_file is not set in ${config.file}: the worker cannot log into ${fqdn}`);
      return openSshNodeAccess({
        host: fqdn, port: ssh.port, username: ssh.username, keyFile: ssh.keyFile,
        knownHostsFile: ssh.knownHosts, insecureSkipHostKeyCheck: !ssh.strictHostKeyChecking, keepaliveSeconds: ssh.keepaliveSeconds,
      });
    },
  };
}
