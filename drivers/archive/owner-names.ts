// The user and group names a fresh export writes into tar headers. Go's archive/tar fills Uname and
// Gname from the machine the daemon runs on (os/user lookups by uid and gid), so dockerd's layer tars
// carry this host's names: strata reads the same files of the machine it runs on, once, lazily.
import { readFileSync } from 'node:fs';

type NameTable = Map<number, string>;

/** uid (or gid) → the first name /etc/passwd (or /etc/group) gives it, as getpwuid and Go's pure lookup do. */
export function parseNameTable(text: string): NameTable {
  const names: NameTable = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || line.startsWith('+') || line.startsWith('-')) continue;
    const fields = line.split(':');
    if (fields.length < 3 || !/^\d+$/.test(fields[2])) continue;
    const id = Number(fields[2]);
    if (!names.has(id)) names.set(id, fields[0]);
  }
  return names;
}

function readTable(file: string): NameTable {
  try {
    return parseNameTable(readFileSync(file, 'utf8'));
  } catch {
    return new Map(); // no such file: names stay empty, as Go leaves them when a lookup fails
  }
}

let users: NameTable | undefined;
let groups: NameTable | undefined;

export function userName(uid: number): string | undefined {
  users ??= readTable(process.env.STRATA_PASSWD ?? '/etc/passwd');
  return users.get(uid);
}

export function groupName(gid: number): string | undefined {
  groups ??= readTable(process.env.STRATA_GROUP ?? '/etc/group');
  return groups.get(gid);
}
