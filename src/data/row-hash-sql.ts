// The SQL that hashes a table's rows inside PostgreSQL (digest format 3, see fingerprint.ts): for each row, two 64-bit
// hashes chained through every column, each column hashed with its value's bytes or, where the type's own hash would
// call unequal bytes equal (or there is none), with its text output; summed in numeric per lane.
//
// Why each choice, measured on 2 cores with pgbench_accounts (961 MB, 7.5M rows, CPU seconds of one backend):
// - the built-in per-type hash functions chained through the seed: 1.4 s for one lane, 2.3 s for two (a scan alone
//   0.4 s), against 3.0 s for hash_record_extended(t.*) twice, and 3.1 s + 1.1 s in Node per GB for format 2 (COPY
//   binary, MurmurHash3 of each row); JIT compiled the expressions without making them faster;
// - chaining (column i's hash seeded with the row's hash so far) mixes all 64 bits non-linearly at each column:
//   hash_record_extended combines columns as 31*h + h_i, so its sum over rows is a sum of per-column sums and values
//   swapped between rows of the same column cancel out; XOR of column hashes is little better;
// - sum(int8) accumulates in 128 bits and returns numeric: no wraparound, the same for any row order or split;
// - a nullable column costs a coalesce, a CASE and an XOR per lane; a row with no NULL skips them through a test of
//   IS NOT NULL steps that call no function, with the same hash: 2.20 -> 2.13 s median of 10 rounds (3 nullable columns),
//   and 1.59 -> 1.25 s on 3M rows of 11 int columns, 10 of them nullable (219 MB);
// - two lanes of independent seeds: a changed row escapes both with a probability near 2^-128, like format 2's 128-bit
//   MurmurHash3; one lane would cost 0.7-0.9 s/GB less (measured) for 2^-64.
//
// Exactness: a proof compares bytes, not equality. Equality-based hashes are used only where equal means identical:
// integers, oid, bool, uuid, text and varchar under the "C" collation, char(n) (always padded to n, so the blanks its
// hash strips are implied by n). int8's own hash folds the two halves into 32 bits, so its high half is hashed too.
// Every other type is hashed through its output function (numeric 1.0 and 1.00, jsonb, arrays with their bounds,
// floats with -0, intervals, timestamps, json, xml, geometric and user types): that is what COPY text sends, and the
// session fixes the settings output depends on (SESSION_SETTINGS). What text output does not show is not seen: the
// payload bits of a float NaN (COPY binary's send form would show them), a user type whose output is not one-to-one.
// The hashes are PostgreSQL's (Jenkins lookup3, 64-bit): fast and well mixed, not cryptographic; the proof shows
// that a restore gave the same data, not that nobody forged it.

/** What a column is hashed as (the catalog decides: columnPlan). */
export type ColumnHash =
  | { readonly kind: 'int2' | 'int4' | 'int8' | 'oid' | 'bool' | 'uuid' | 'text' | 'bpchar' }
  | {
      readonly kind: 'output';
      /** the type's output function, as regproc prints it under search_path = pg_catalog */
      readonly fn: string;
    };

export interface ColumnMeta {
  readonly name: string;
  readonly notNull: boolean;
  readonly hash: ColumnHash;
}

/** Settings every fingerprint session runs with: output formats fixed, no JIT (no gain measured, 0.1-0.3 s to compile each range's query), no parallel query (the ranges are the parallelism). */
export const SESSION_SETTINGS = [
  'search_path = pg_catalog',
  "TimeZone = 'UTC'",
  "DateStyle = 'ISO, YMD'",
  "IntervalStyle = 'postgres'",
  'extra_float_digits = 1',
  "bytea_output = 'hex'",
  "xmlbinary = 'base64'",
  "lc_monetary = 'C'",
  'jit = off',
  'max_parallel_workers_per_gather = 0',
];

/** Given at connection (startup options win over settings of the database or role): a statement or lock timeout set there would cut a large table's pass (or one waiting a moment on a locked table), or these SETs, short. */
export const STARTUP_OPTIONS = '-c statement_timeout=0 -c lock_timeout=0 -c idle_in_transaction_session_timeout=0';

/** Seeds of the lanes (any distinct non-zero int8): one 64-bit row hash each. */
export const LANES = [0x2545f4914f6cdd1dn, 0x5851f42d4c957f2dn].map((x) => BigInt.asIntN(64, x));

/** Columns chained in one expression (a table has at most 1600). */
const CHUNK = 100;

export function qi(id: string): string {
  return `"${id.replace(/"/g, '""')}"`;
}

/**
 * The hash plan of a column from the catalog: `base` is the OID of its type (after a domain: the domain's base),
 * `domain` whether the column's type is a domain, `typmod` the column's, `out` its type's output function.
 */
export function columnPlan(c: { name: string; notNull: boolean; base: number; domain: boolean; typmod: number; out: string }): ColumnMeta {
  const exact: Record<number, ColumnHash['kind']> = { 21: 'int2', 23: 'int4', 20: 'int8', 26: 'oid', 16: 'bool', 2950: 'uuid', 25: 'text', 1043: 'text' };
  let kind = exact[c.base];
  // char(n): the typmod pads every value to n (a domain's typmod is its own: read through the text output then)
  if (c.base === 1042 && !c.domain && c.typmod >= 0) kind = 'bpchar';
  return { name: c.name, notNull: c.notNull, hash: kind ? ({ kind } as ColumnHash) : { kind: 'output', fn: c.out } };
}

/** The value of column `col` as the hash reads it, and the value standing for NULL (its NULL-ness goes in the seed). */
function hashCall(h: ColumnHash, col: string, seed: string): string {
  switch (h.kind) {
    case 'int2':
      return `hashint2extended(${col}, ${seed})`;
    case 'int4':
      return `hashint4extended(${col}, ${seed})`;
    case 'int8':
      return `hashint4extended((${col} >> 32)::int4, hashint8extended(${col}, ${seed}))`;
    case 'oid':
      return `hashoidextended(${col}, ${seed})`;
    case 'bool':
      return `hashint4extended(${col}::int4, ${seed})`;
    case 'uuid':
      return `uuid_hash_extended(${col}, ${seed})`;
    case 'bpchar':
      return `hashbpcharextended(${col} COLLATE "C", ${seed})`;
    case 'text':
    case 'output':
      return `hashtextextended(${col} COLLATE "C", ${seed})`;
    default: {
      const never: never = h;
      throw new Error(`unknown column hash ${JSON.stringify(never)}`);
    }
  }
}

const NULL_STANDIN: Record<ColumnHash['kind'], string> = {
  int2: '0::int2',
  int4: '0',
  int8: '0::int8',
  oid: '0::oid',
  bool: 'false',
  uuid: "'00000000-0000-0000-0000-000000000000'::uuid",
  text: "''::text",
  bpchar: "''::bpchar",
  output: "''::text",
};

/**
 * SELECT count (n), lane sums (l0, l1...: numeric as text) of the rows of `rel` matching `where`. Columns read through their output
 * function, and text columns (which may be TOASTed: decompressed once, not once per lane), are computed in a subquery.
 */
export function rowHashQuery(rel: string, where: string, cols: readonly ColumnMeta[]): string {
  const cond = where ? ` WHERE ${where}` : '';
  // chained in steps of CHUNK columns: one expression nested through hundreds of columns exhausts the SQL parser's stack
  const chunked = cols.length > CHUNK;
  // renamed c0, c1... in a subquery: no user column can collide with the step's h0, h1...
  const inner = chunked || cols.some((c) => c.hash.kind === 'output' || c.hash.kind === 'text');
  const ref = (i: number) => (inner ? `c${i}` : qi(cols[i]!.name));
  const chain = (l: number, from: number, to: number, start: string): string => {
    let full = start;
    let plain = start;
    const nullable: string[] = [];
    for (let i = from; i < to; i++) {
      const c = cols[i]!;
      const v = ref(i);
      plain = hashCall(c.hash, v, plain);
      if (c.notNull) full = hashCall(c.hash, v, full);
      else {
        nullable.push(v);
        const marker = BigInt((l + 1) * 1_000_003 + i + 1);
        full = hashCall(c.hash, `coalesce(${v}, ${NULL_STANDIN[c.hash.kind]})`, `${full} # CASE WHEN ${v} IS NULL THEN ${marker}::int8 ELSE 0::int8 END`);
      }
    }
    // on a row without NULLs both give the same hash (every marker is 0, every coalesce its value): the plain one
    // costs no coalesce, CASE and XOR per column, and the test before it no function call
    return nullable.length ? `CASE WHEN ${nullable.map((v) => `${v} IS NOT NULL`).join(' AND ')} THEN ${plain} ELSE ${full} END` : full;
  };
  let from = inner
    ? `(SELECT ${cols
        .map((c, i) => {
          const col = qi(c.name);
          const v = c.hash.kind === 'output' ? `textin(${c.hash.fn}(${col}))` : c.hash.kind === 'text' ? `(${col})::text || ''` : col;
          return `${v} AS c${i}`;
        })
        .join(', ')} FROM ${rel}${cond} OFFSET 0) s`
    : `${rel}${cond}`;
  let starts = LANES.map((seed) => `${seed}::int8`);
  let done = 0;
  for (let k = 0; chunked && done + CHUNK < cols.length; k++) {
    const lanes = LANES.map((_, l) => `${chain(l, done, done + CHUNK, starts[l]!)} AS h${l}`);
    const rest = cols.slice(done + CHUNK).map((_, j) => ref(done + CHUNK + j));
    from = `(SELECT ${[...lanes, ...rest].join(', ')} FROM ${from} OFFSET 0) s${k}`;
    starts = LANES.map((_, l) => `h${l}`);
    done += CHUNK;
  }
  return `SELECT count(*)::text AS n, ${LANES.map((_, l) => `sum(${chain(l, done, cols.length, starts[l]!)})::text AS l${l}`).join(', ')} FROM ${from}`;
}
