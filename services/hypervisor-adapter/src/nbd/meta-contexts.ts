// The metadata contexts a client may list and select for NBD_CMD_BLOCK_STATUS (spec, "Metadata
// querying"): this server has one, base:allocation — which runs of an export hold data and which
// read as zeros with none (never written, trimmed or zeroed), known from the sectors' generation
// words without decrypting anything. LIST with no queries, or the query "base:", lists it; SET
// selects it when named exactly; queries of other namespaces, or for other base: leaves, are
// ignored, as the spec says.

import { BASE_ALLOCATION, NBD_MAX_STRING_BYTES } from './nbd-constants.js';

/** A context a LIST or SET answers with: its id and the NBD_REP_META_CONTEXT payload (u32 id, name). */
export interface MetaContext {
  id: number;
  reply: Buffer;
}

/** base:allocation's id once selected (opaque to the client); a LIST answers with id 0, as the spec asks. */
const BASE_ALLOCATION_ID = 1;

/** NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT data: u32 name length, export name, u32 query count, count × (u32 length, query). */
export function parseMetaContextRequest(data: Buffer): { exportName: string; queries: string[] } | string {
  let at = 0;
  const string = (what: string): string => {
    if (data.length - at < 4) throw new Error(`the option data ends before the ${what}'s length`);
    const length = data.readUInt32BE(at);
    at += 4;
    if (length > NBD_MAX_STRING_BYTES) throw new Error(`the ${what} is longer than ${NBD_MAX_STRING_BYTES} bytes`);
    if (length > data.length - at) throw new Error(`the ${what} runs past the option data`);
    const text = data.toString('utf8', at, at + length);
    at += length;
    return text;
  };
  try {
    const exportName = string('export name');
    if (data.length - at < 4) return 'the option data ends before the number of queries';
    const count = data.readUInt32BE(at);
    at += 4;
    const queries: string[] = [];
    for (let i = 0; i < count; i++) {
      const query = string(`query ${i + 1}`);
      if (!query.includes(':')) return `query ${JSON.stringify(query)} names no namespace (namespace:leaf)`;
      queries.push(query);
    }
    if (at !== data.length) return 'the option data runs past its last query';
    return { exportName, queries };
  } catch (error) {
    return (error as Error).message;
  }
}

/** The contexts a LIST (`list`) or SET (`set`) answers for `queries`. */
export function answerMetaContexts(kind: 'list' | 'set', queries: readonly string[]): MetaContext[] {
  const matches = kind === 'list' ? queries.length === 0 || queries.some((q) => q === 'base:' || q === BASE_ALLOCATION) : queries.includes(BASE_ALLOCATION);
  if (!matches) return [];
  const id = kind === 'list' ? 0 : BASE_ALLOCATION_ID;
  const name = Buffer.from(BASE_ALLOCATION, 'utf8');
  const reply = Buffer.alloc(4 + name.length);
  reply.writeUInt32BE(id, 0);
  name.copy(reply, 4);
  return [{ id, reply }];
}
