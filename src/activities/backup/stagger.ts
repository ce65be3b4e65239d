/**
 * Medusa's `--stagger` for one node (backup_node.py `stagger()`): proceed when this node already
 * has a finished backup, or is first in token order, or the node before it in token order has a
 * finished backup. It only orders a cluster's very first backups. "Has a finished backup" is read
 * from `index/latest_backup/<fqdn>/backup_name.txt`, which is written only when a backup finishes.
 */
import { parseTokenMap } from '../../plan/tokenmap';
import { Layout } from '../../plan/layout';
import { ActivityContext } from '../context';
import { classify } from '../failures';
import { layoutFor } from './start';
import { NodeBackupRef } from './types';

export interface StaggerVerdict {
  ready: boolean;
  reason: string;
}

export function makeStaggerActivities(ctx: ActivityContext) {
  return {
    async staggerReady(ref: NodeBackupRef): Promise<StaggerVerdict> {
      return classify(ref.fqdn, 'stagger', async () => {
        const storage = ctx.storage(ref.bucketName);
        const own = layoutFor(ctx, ref);
        const finishedOnce = async (fqdn: string) => (await storage.head(new Layout(ref.prefix ?? ctx.config.storage.prefix, fqdn).latest('backup_name.txt'))) !== undefined;
        if (await finishedOnce(ref.fqdn)) return { ready: true, reason: `${ref.fqdn} already has a finished backup` };
        const text = await storage.getBytes(own.meta(ref.backupName, 'tokenmap.json'));
        if (!text) throw new Error(`${own.meta(ref.backupName, 'tokenmap.json')} is missing`);
        const map = parseTokenMap(text.toString('utf8'));
        const first = (h: string) => map[h].tokens.reduce((a, b) => (b < a ? b : a), map[h].tokens[0] ?? 0n);
        const order = Object.keys(map).sort((a, b) => (first(a) < first(b) ? -1 : first(a) > first(b) ? 1 : 0));
        const at = order.indexOf(ref.fqdn);
        if (at <= 0) return { ready: true, reason: at === 0 ? `${ref.fqdn} is first in token order` : `${ref.fqdn} is not in the token map` };
        const previous = order[at - 1];
        return (await finishedOnce(previous))
          ? { ready: true, reason: `${previous} (before ${ref.fqdn} in token order) has a finished backup` }
          : { ready: false, reason: `waiting for ${previous} (before ${ref.fqdn} in token order) to finish a backup` };
      });
    },
  };
}
