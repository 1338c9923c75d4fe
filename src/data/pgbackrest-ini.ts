// The one parser of pgBackRest's INI dialect (pgbackrest.conf, backup.info, archive.info): `[section]` headers,
// `key=value` lines, `#` comments. A key may repeat (pgBackRest list options such as `db-include`); the values are kept in order.

export interface IniSection {
  readonly name: string;
  readonly options: Record<string, string>;
  /** every value of repeated keys, in order */
  readonly lists: Record<string, string[]>;
}

export type IniParse =
  { readonly ok: true; readonly sections: Record<string, IniSection> } | { readonly ok: false; /** 1-based */ readonly line: number; readonly message: string };

export function parseIni(text: string): IniParse {
  const sections: Record<string, IniSection> = {};
  let current: IniSection | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[([^\]]+)\]$/.exec(line);
    if (sec) {
      const name = sec[1]!.trim();
      current = sections[name] ??= { name, options: {}, lists: {} };
      continue;
    }
    const eq = line.indexOf('=');
    // Messages carry the key at most: values may be secrets.
    if (eq <= 0) return { ok: false, line: i + 1, message: 'expected key=value or [section]' };
    const key = line.slice(0, eq).trim();
    if (!current) return { ok: false, line: i + 1, message: `option '${key}' appears before any [section] (pgBackRest options belong under [global])` };
    const value = line.slice(eq + 1).trim();
    current.options[key] = value;
    (current.lists[key] ??= []).push(value);
  }
  return { ok: true, sections };
}
