/** Help texts the command line shows; here so that registering the commands loads none of their code. */

export const STAGGER_HELP = 'drop initial backups if longer than a duration: nodes are taken in token order, and a node\'s upload waits '
  + 'until the node before it has finished, at most this many seconds; then the node is dropped from this backup, with the reason';

export const ONLINE_HELP = 'restore into the running node(s): download the tables, then `nodetool import` them; no restart, system keyspaces never touched '
  + '(the default with --keyspace/--table)';
export const OFFLINE_HELP = 'download while Cassandra runs, then stop it, swap the tables for the downloaded ones, and start it again '
  + '(the default without --keyspace/--table)';
