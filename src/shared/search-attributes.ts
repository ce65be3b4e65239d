/**
 * Custom search attributes the backup workflows set, so runs can be filtered in the Temporal UI
 * (e.g. `MedusaBackupName = "nightly-1"`). A server must have them registered; the sandbox does it
 * at start, `temporal operator search-attribute create` does it elsewhere. Pure: workflows import it.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SEARCH_ATTRIBUTES = {
  MedusaBackupName: 'Keyword',
  MedusaBackupMode: 'Keyword',
  MedusaBackupOutcome: 'Keyword',
} as const;

export const BACKUP_NAME = defineSearchAttributeKey('MedusaBackupName', SearchAttributeType.KEYWORD);
export const BACKUP_MODE = defineSearchAttributeKey('MedusaBackupMode', SearchAttributeType.KEYWORD);
export const BACKUP_OUTCOME = defineSearchAttributeKey('MedusaBackupOutcome', SearchAttributeType.KEYWORD);
