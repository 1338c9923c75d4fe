import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * A VM Castle has started to create but not yet tagged. A clone's new VM carries no tag of ours until the
 * clone ends and Castle re-writes the tags: an interrupted run leaves such a VM locked (`lock: clone`) and
 * untagged, and this record is what proves it is the castle's, so that the wipe may take it.
 */
export interface InFlight {
  readonly vmid: number;
  readonly node: string;
  readonly op: 'clone' | 'create';
  /** the creating task, once Proxmox returned it */
  readonly upid?: string;
  readonly since: string;
}

/** The castle's in-flight creations, in the state dir; written whole on each change (a handful of entries). */
export class Journal {
  readonly #file: string;
  constructor(file: string) {
    this.#file = file;
  }

  read(): Map<number, InFlight> {
    try {
      const list = JSON.parse(readFileSync(this.#file, 'utf8')) as InFlight[];
      return new Map(list.map((e) => [e.vmid, e]));
    } catch {
      return new Map();
    }
  }

  #write(m: Map<number, InFlight>): void {
    mkdirSync(dirname(this.#file), { recursive: true });
    const tmp = `${this.#file}.${process.pid}.tmp`;
    writeFileSync(
      tmp,
      JSON.stringify(
        [...m.values()].sort((a, b) => a.vmid - b.vmid),
        null,
        2,
      ) + '\n',
    );
    renameSync(tmp, this.#file);
  }

  set(...entries: InFlight[]): void {
    const m = this.read();
    for (const e of entries) m.set(e.vmid, e);
    this.#write(m);
  }

  remove(vmid: number): void {
    const m = this.read();
    if (m.delete(vmid)) this.#write(m);
  }
}
