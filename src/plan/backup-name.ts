/**
 * Backup names become parts of object keys, index blob names and the snapshot tag `medusa-<name>`,
 * which nodetool forbids to contain '/'. Medusa checks none of this; we accept only characters that
 * are safe in all three places.
 */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

export function backupNameProblem(name: string): string | undefined {
  if (name === '') return 'backup name is empty';
  if (name.includes('/')) return `backup name ${JSON.stringify(name)} contains '/'`;
  if (name === '.' || name === '..' || name.includes('..')) return `backup name ${JSON.stringify(name)} contains '..'`;
  if (!NAME.test(name)) {
    return `backup name ${JSON.stringify(name)} may use only letters, digits, '.', '_' and '-' (starting with a letter or digit, at most 200 characters)`;
  }
  return undefined;
}

/** Medusa's default backup name: local time as %Y%m%d%H%M (e.g. 202608061540). */
export function defaultBackupName(now: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}${p(now.getHours())}${p(now.getMinutes())}`;
}

export function snapshotTag(name: string, useExistingSnapshot: boolean): string {
  return useExistingSnapshot ? name : `medusa-${name}`;
}
