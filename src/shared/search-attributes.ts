/**
 * Custom search attributes the backup workflows set, so runs can be filtered in the Temporal UI
 * (e.g. `MedusaBackupName = "nightly-1"`). A server must have them registered; the sandbox and the
 * embedded server do it at start, `temporal operator search-attribute create` does it elsewhere.
 */
export const SEARCH_ATTRIBUTES = {
  MedusaBackupName: 'Keyword',
  MedusaBackupMode: 'Keyword',
  MedusaBackupOutcome: 'Keyword',
} as const;

export type SearchAttributeName = keyof typeof SEARCH_ATTRIBUTES;
