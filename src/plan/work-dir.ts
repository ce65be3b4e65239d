/**
 * Where a node workflow keeps its work files on the node (the plan, the hash checkpoint, what was sent): one
 * directory per run under `--temp-dir`, so two runs never share a plan, and every attempt of a step of the same
 * run finds what the earlier attempt left. Pure: used by the workflows, and by tests that look into it.
 */
export function runWorkDir(tempDir: string | undefined, workflowId: string, runId: string): string {
  const runKey = `${workflowId}-${runId.slice(0, 8)}`.replace(/[^A-Za-z0-9._-]/g, '_');
  return `${(tempDir ?? '/tmp').replace(/\/+$/, '')}/medusa-temporal/${runKey}`;
}
