// Part of the frozen format-2 fingerprint (baseline-v2.ts) for `npm run bench -- fingerprint`; not used by Castle itself.
// COPY ... TO STDOUT digested straight off the connection's socket, without turning rows into JS objects: each
// CopyData message is one row, hashed where it lies in the socket's buffer (row-hash.ts) and added to a sum.
//
// Hand-written rather than pg-copy-streams 7.0.0, which copies every row twice before the hash sees it: on the same
// cluster (pgbench scale 7, 6 interleaved rounds) it fingerprinted at a median 64-76 MB/s binary and 97-109 MB/s text
// against 93-94 and 125-148 MB/s for this reader (then hashing the stream with sha256). This ties us to pg's internals (the Submittable protocol,
// the connection's socket with pg-protocol's one 'data' listener): `pg` and `pg-protocol` are pinned exactly in
// package.json, and test/data/fingerprint.test.ts checks the contract against a real server (digests rebuilt from
// psql's output, a COPY failing midway, the connection reused after).
import net from 'node:net';
import { RowSum } from './row-hash.js';

export interface CopyDigest {
  readonly rows: number;
  readonly digest: string;
  /** bytes of COPY messages digested */
  readonly bytes: number;
}

interface PgSocket {
  removeListener: (e: string, f: (b: Buffer) => void) => void;
  on: (e: string, f: (b: Buffer) => void) => void;
  listeners: (e: string) => ((b: Buffer) => void)[];
  /** set by fingerprintSocket: while set, received bytes go here instead of to pg (see there) */
  castleSink?: ((b: Buffer) => void) | null;
}

/**
 * A plain (non-TLS) socket for pg's `stream` option that reads into one reused 1 MiB buffer: no allocation per read and
 * fewer, larger reads. While a COPY is digested the bytes go to the digest in place; otherwise pg gets a copy of them
 * (pg-protocol keeps references to the buffers it is given).
 */
export function fingerprintSocket(): net.Socket {
  const buffer = Buffer.allocUnsafe(1 << 20);
  // `onread` is honoured by the constructor as by connect() (Node 12.2+), though @types/node lists it for connect() only
  const sock = new net.Socket({
    onread: {
      buffer,
      callback: (n: number, buf: Uint8Array): boolean => {
        const b = Buffer.from(buf.buffer, buf.byteOffset, n);
        if (sock.castleSink) sock.castleSink(b);
        else sock.emit('data', Buffer.from(b));
        return true;
      },
    },
  } as net.SocketConstructorOpts) as net.Socket & { castleSink?: ((b: Buffer) => void) | null };
  sock.castleSink = null;
  return sock;
}

/** "PGCOPY\n\377\r\n\0": the start of binary COPY data */
const SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00];

/** A pg Submittable that runs one COPY ... TO STDOUT and sums the hashes of the rows it sends. */
export class CopyHasher {
  readonly text: string;
  readonly done: Promise<CopyDigest>;
  private readonly sum = new RowSum();
  private bytes = 0;
  private rows = 0;
  private readonly hdr = Buffer.alloc(5);
  private hdrLen = 0;
  private skip = 0;
  private inData = false;
  private detached = false;
  private resolve!: (v: CopyDigest) => void;
  private reject!: (e: Error) => void;
  private stream: PgSocket | null = null;
  private pgHandler: ((b: Buffer) => void) | null = null;
  private error: Error | null = null;
  /** a row split across socket chunks is gathered here */
  private row = Buffer.alloc(0);
  private rowView = new DataView(this.row.buffer);
  private rowHave = 0;
  private rowLen = 0;
  private readonly binary: boolean;
  /** binary format: the file header still ahead (it comes in the first CopyData message, before row 1) */
  private binaryHeader: boolean;

  /** `format`: the COPY's, so that the binary header and trailer stay out of the sum */
  constructor(text: string, format: 'binary' | 'text' = 'text') {
    this.text = text;
    this.binary = format === 'binary';
    this.binaryHeader = this.binary;
    this.done = new Promise((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.done.catch(() => {});
  }

  /** pg Submittable */
  submit(connection: { stream: PgSocket; query: (t: string) => void }): void {
    const s = connection.stream;
    this.stream = s;
    if ('castleSink' in s) s.castleSink = this.onData;
    else {
      const ls = s.listeners('data');
      if (ls.length !== 1) throw new Error(`unexpected ${ls.length} data listeners on the pg connection`);
      this.pgHandler = ls[0]!;
      s.removeListener('data', this.pgHandler);
      s.on('data', this.onData);
    }
    connection.query(this.text);
  }

  /** hands the socket back to pg, with the bytes after the COPY data */
  private detach(rest: Buffer | null): void {
    if (this.detached) return;
    this.detached = true;
    const s = this.stream!;
    if (this.pgHandler) {
      s.removeListener('data', this.onData);
      s.on('data', this.pgHandler);
      if (rest?.length) this.pgHandler(rest);
    } else {
      s.castleSink = null;
      if (rest?.length) (s as unknown as net.Socket).emit('data', Buffer.from(rest));
    }
  }

  /** the body of one CopyData message, `take` bytes of it at `i` in `chunk` */
  private rowBytes(chunk: Buffer, view: DataView, i: number, take: number): void {
    if (this.rowHave === 0 && take === this.rowLen) {
      this.addRow(chunk, view, i, take);
      return;
    }
    if (this.row.length < this.rowLen) {
      this.row = Buffer.alloc(Math.max(this.rowLen, this.row.length * 2));
      this.rowView = new DataView(this.row.buffer, this.row.byteOffset, this.row.length);
    }
    chunk.copy(this.row, this.rowHave, i, i + take);
    this.rowHave += take;
    if (this.rowHave === this.rowLen) {
      this.addRow(this.row, this.rowView, 0, this.rowLen);
      this.rowHave = 0;
    }
  }

  /** One whole CopyData body. Binary COPY puts its 19-byte header (+ extension) before row 1 and ends with a trailer (-1 as int16): neither is a row. */
  private addRow(buf: Uint8Array, view: DataView, off: number, len: number): void {
    this.bytes += len + 5;
    if (this.binaryHeader) {
      this.binaryHeader = false;
      if (len < 19 || !SIGNATURE.every((b, k) => buf[off + k] === b)) {
        // not what COPY (FORMAT binary) sends: the COPY fails when it ends (handleReadyForQuery)
        this.error ??= new Error('binary COPY data without the PGCOPY header');
        return;
      }
      const skip = 19 + view.getUint32(off + 15);
      off += skip;
      len -= skip;
    }
    if (this.binary && (len === 0 || (len === 2 && buf[off] === 0xff && buf[off + 1] === 0xff))) return;
    this.sum.add(buf, view, off, len);
  }

  /** feeds protocol bytes */
  readonly onData = (chunk: Buffer): void => {
    if (this.detached) return;
    const n = chunk.length;
    const view = new DataView(chunk.buffer, chunk.byteOffset, n);
    let i = 0;
    while (i < n) {
      if (this.skip > 0) {
        const k = Math.min(this.skip, n - i);
        if (this.inData) this.rowBytes(chunk, view, i, k);
        i += k;
        this.skip -= k;
        continue;
      }
      const hdrStart = i - this.hdrLen;
      let code: number;
      let len: number;
      if (this.hdrLen === 0 && i + 5 <= n) {
        // the common case: the whole header is in this chunk
        code = chunk[i]!;
        len = ((chunk[i + 1]! << 24) >>> 0) + (chunk[i + 2]! << 16) + (chunk[i + 3]! << 8) + chunk[i + 4]! - 4;
        i += 5;
      } else {
        const take = Math.min(5 - this.hdrLen, n - i);
        chunk.copy(this.hdr, this.hdrLen, i, i + take);
        this.hdrLen += take;
        i += take;
        // an incomplete header at the end of the chunk: decided on with the next chunk
        if (this.hdrLen < 5) return;
        this.hdrLen = 0;
        code = this.hdr[0]!;
        len = this.hdr.readUInt32BE(1) - 4;
      }
      if (code === 0x64 /* CopyData */) {
        this.inData = true;
        this.rows++;
        this.skip = len;
        this.rowLen = len;
        if (len === 0) this.rowBytes(chunk, view, i, 0);
        continue;
      }
      if (code === 0x48 /* CopyOutResponse */ || code === 0x4e /* Notice */ || code === 0x53 /* ParameterStatus */ || code === 0x41 /* Notification */) {
        this.inData = false;
        // interspersed notices/parameter changes are skipped (as COPY stream readers do); hashing resumes after them
        this.skip = len;
        continue;
      }
      // end of the data: CopyDone, ErrorResponse or anything else goes back to pg
      this.inData = false;
      if (code === 0x63 /* CopyDone */) {
        this.detach(chunk.subarray(i + Math.max(len, 0)));
      } else {
        this.detach(hdrStart >= 0 ? chunk.subarray(hdrStart) : Buffer.concat([this.hdr.subarray(0, -hdrStart), chunk]));
      }
      return;
    }
  };

  handleCommandComplete(msg: { text?: string }): void {
    const m = /COPY (\d+)/.exec(msg?.text ?? '');
    if (m) this.rows = Number(m[1]);
  }

  handleError(err: Error): void {
    this.error = err;
    if (this.stream) this.detach(null);
    // pg drops the active query on an error: no handleReadyForQuery follows, so settle here
    this.reject(err);
  }

  handleReadyForQuery(): void {
    if (this.error) this.reject(this.error);
    else this.resolve({ rows: this.rows, digest: this.sum.hex(), bytes: this.bytes });
  }

  /** digest so far (tests) */
  peekDigest(): string {
    return this.sum.hex();
  }
}
