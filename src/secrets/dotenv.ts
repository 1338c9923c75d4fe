import { constants as fsc } from 'node:fs';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Result } from '../core/result.js';
import type { SecretSource } from './source.js';

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export interface DotenvEntry {
  readonly key: string;
  readonly value: string;
  /** 1-based line of the assignment */
  readonly line: number;
  /** 1-based last line of the assignment (a double-quoted value may span lines) */
  readonly endLine: number;
}

export interface DotenvParse {
  readonly entries: DotenvEntry[];
  /** problems with their line: never includes a value */
  readonly problems: { line: number; message: string }[];
}

/** Parses KEY=value lines (`export` prefix, `#` comments, '…' literal and "…" escaped quoting). */
export function parseDotenv(text: string): DotenvParse {
  const entries: DotenvEntry[] = [];
  const problems: { line: number; message: string }[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i] ?? '';
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    line = line.replace(/^\s*export\s+/, '');
    const eq = line.indexOf('=');
    if (eq <= 0) {
      problems.push({ line: lineNo, message: 'expected KEY=value' });
      continue;
    }
    const key = line.slice(0, eq).trim();
    if (!KEY_RE.test(key)) {
      // The "key" may be a mistyped value: never echo it.
      problems.push({ line: lineNo, message: 'invalid key name (use letters, digits, _ . -; not starting with a digit)' });
      continue;
    }
    let rest = line.slice(eq + 1).trimStart();
    let value: string;
    if (rest.startsWith('"')) {
      // Double quotes may span lines; escapes as in shells' dotenv dialects.
      let body = rest.slice(1);
      let end = findClosingQuote(body);
      while (end === -1 && i + 1 < lines.length) {
        i++;
        body += '\n' + (lines[i] ?? '');
        end = findClosingQuote(body);
      }
      if (end === -1) {
        problems.push({ line: lineNo, message: `unterminated double quote for ${key}` });
        continue;
      }
      value = body.slice(0, end).replace(/\\([nrt"\\$])/g, (_m, c: string) => ({ n: '\n', r: '\r', t: '\t' })[c as 'n'] ?? c);
    } else if (rest.startsWith("'")) {
      const end = rest.indexOf("'", 1);
      if (end === -1) {
        problems.push({ line: lineNo, message: `unterminated single quote for ${key}` });
        continue;
      }
      value = rest.slice(1, end);
    } else {
      // An unquoted value ends at an inline comment (` #`).
      const hash = rest.search(/\s#/);
      if (hash !== -1) rest = rest.slice(0, hash);
      value = rest.trim();
    }
    entries.push({ key, value, line: lineNo, endLine: i + 1 });
  }
  return { entries, problems };
}

function findClosingQuote(s: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') {
      i++;
      continue;
    }
    if (s[i] === '"') return i;
  }
  return -1;
}

function formatValue(value: string): string {
  if (/^[A-Za-z0-9_./:@+=,-]*$/.test(value)) return value;
  return (
    '"' +
    value
      .replace(/[\\"$]/g, (c) => '\\' + c)
      .replace(/\n/g, '\\n')
      .replace(/\r/g, '\\r') +
    '"'
  );
}

/** Refuses files that others can read: a dotenv file holds secrets. */
export async function checkSecretFileMode(file: string): Promise<Result<void>> {
  let st;
  try {
    st = await stat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, reason: `secrets file ${file} does not exist: create it (mode 600) or point the castle at the right file` };
    return { ok: false, reason: `cannot read secrets file ${file}: ${code ?? String(e)}` };
  }
  if (!st.isFile()) return { ok: false, reason: `secrets file ${file} is not a regular file` };
  const mode = st.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    return {
      ok: false,
      reason: `secrets file ${file} is readable or writable by group/others (mode ${mode.toString(8).padStart(3, '0')}): run \`chmod 600 ${file}\``,
    };
  }
  return { ok: true, value: undefined };
}

export interface DotenvOptions {
  /** create an empty 0600 file when missing (a source that will receive generated passwords) */
  readonly create?: boolean;
}

/**
 * A `.env` file as a secret source. The file must be mode 0600 (checked at open and at every read);
 * `set` rewrites it atomically with mode 0600, keeping comments and order.
 */
export class DotenvSource implements SecretSource {
  readonly file: string;
  readonly description: string;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(file: string) {
    this.file = file;
    this.description = `dotenv file ${file}`;
  }

  static async open(file: string, opts: DotenvOptions = {}): Promise<Result<DotenvSource>> {
    const abs = path.resolve(file);
    if (opts.create) {
      try {
        const fh = await open(abs, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o600);
        await fh.close();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
          return { ok: false, reason: `cannot create secrets file ${abs}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
        }
      }
    }
    const mode = await checkSecretFileMode(abs);
    if (!mode.ok) return mode;
    const src = new DotenvSource(abs);
    const parsed = await src.#read();
    if (!parsed.ok) return parsed;
    if (parsed.value.problems.length > 0) {
      const p = parsed.value.problems[0]!;
      return { ok: false, reason: `${abs}:${p.line}: ${p.message}` };
    }
    return { ok: true, value: src };
  }

  async #read(): Promise<Result<DotenvParse>> {
    const mode = await checkSecretFileMode(this.file);
    if (!mode.ok) return mode;
    const text = await readFile(this.file, 'utf8');
    return { ok: true, value: parseDotenv(text) };
  }

  async #entries(): Promise<Map<string, string>> {
    const r = await this.#read();
    // The file was valid at open: losing it or its mode afterwards is outside the contract.
    if (!r.ok) throw new Error(r.reason);
    const m = new Map<string, string>();
    for (const e of r.value.entries) m.set(e.key, e.value);
    return m;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.#entries()).get(key);
  }

  async list(): Promise<string[]> {
    return [...(await this.#entries()).keys()];
  }

  async set(key: string, value: string): Promise<void> {
    if (!KEY_RE.test(key)) throw new Error(`invalid dotenv key name '${key}'`);
    const run = this.#queue.then(() => this.#write(key, value));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #write(key: string, value: string): Promise<void> {
    const text = await readFile(this.file, 'utf8');
    const lines = text.split('\n');
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    const parsed = parseDotenv(text);
    const assignment = `${key}=${formatValue(value)}`;
    const hits = parsed.entries.filter((e) => e.key === key);
    if (hits.length > 0) {
      // Replace the last assignment (the one that wins) and drop earlier duplicates, every line of each.
      const last = hits[hits.length - 1]!;
      const drop = new Set<number>();
      for (const h of hits) for (let l = h.line; l <= h.endLine; l++) if (h !== last || l > h.line) drop.add(l - 1);
      const out: string[] = [];
      for (let i = 0; i < lines.length; i++) {
        if (drop.has(i)) continue;
        out.push(i === last.line - 1 ? assignment : (lines[i] ?? ''));
      }
      await this.#atomicWrite(out.join('\n') + '\n');
    } else {
      lines.push(assignment);
      await this.#atomicWrite(lines.join('\n') + '\n');
    }
  }

  async #atomicWrite(content: string): Promise<void> {
    const tmp = `${this.file}.${process.pid}.tmp`;
    const owner = await stat(this.file);
    const fh = await open(tmp, fsc.O_CREAT | fsc.O_TRUNC | fsc.O_WRONLY, 0o600);
    try {
      await fh.chmod(0o600);
      // Root rewriting a user's file must not take it away from that user.
      if (process.getuid?.() === 0) await fh.chown(owner.uid, owner.gid);
      await fh.writeFile(content, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, this.file);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
  }
}
