/**
 * Settings an operator can change on a running workflow, by name: shared by the workflows that hold them
 * and the activities that follow them (which must not import workflow code).
 */

/** Query of a backup or download workflow: its transfer bandwidth limit in bytes per second (0 = unlimited), or null while the worker's applies. */
export const TRANSFER_BANDWIDTH_QUERY = 'transferMaxBandwidth';
/** Update of a backup or download workflow (and of a cluster backup, for all its nodes): a new transfer bandwidth limit. */
export const SET_TRANSFER_BANDWIDTH_UPDATE = 'setTransferMaxBandwidth';
/** Signal by which a cluster backup passes a new transfer bandwidth limit to its node workflows. */
export const TRANSFER_BANDWIDTH_SIGNAL = 'transferMaxBandwidthChanged';
