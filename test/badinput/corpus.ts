// The bad-input corpus: hand-written broken castle files and manifests, plus castle files from a seeded
// generator whose every mutation is invalid by construction (so each one must be refused).
import { stringify } from 'yaml';

export interface BadInput {
  readonly name: string;
  /** castle.yaml, or db/cluster.yaml of the local example for a manifest case */
  readonly file: 'castle.yaml' | 'db/cluster.yaml';
  readonly content: string | Buffer;
}

/** A deterministic generator (the numbers of a classic LCG): a seed always gives the same corpus. */
export function seeded(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % n;
  };
}

const BOMB_LINES = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...'bcdefghi'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`),
];

/** A castle of generic steps only: if a generated file were ever accepted, `castle up` would run `true`. */
function base(): Record<string, any> {
  return {
    name: 'corpus',
    budget: '5m',
    defaults: { timeout: '1m', retries: 1 },
    layers: [
      { name: 'one', apply: [{ run: 'true' }] },
      { name: 'two', dependsOn: ['one'], apply: [{ noop: {} }, { run: 'true', timeout: '10s' }] },
      { name: 'three', dependsOn: ['two'], apply: [{ waitFor: { command: 'true' } }] },
    ],
  };
}

const WRONG: Record<'string' | 'integer' | 'array', readonly unknown[]> = {
  string: [42, true, [1, 2], { a: 1 }],
  integer: ['many', true, [3], { n: 1 }, 1.5],
  array: ['one', 7, { a: 1 }, true],
};

type Mutation = (c: Record<string, any>, rnd: (n: number) => number) => string;

// an earlier mutation may have removed or retyped the layers (the file is invalid already): later ones then edit a copy
const layersOf = (c: Record<string, any>): Record<string, any>[] =>
  Array.isArray(c['layers']) && c['layers'].length >= 3 && c['layers'].every((l: unknown) => typeof l === 'object' && l !== null)
    ? c['layers']
    : base()['layers'];
const pickLayer = (c: Record<string, any>, rnd: (n: number) => number): Record<string, any> => layersOf(c)[rnd(3)]!;

const MUTATIONS: readonly Mutation[] = [
  (c, rnd) => {
    const fields: [Record<string, any>, string, keyof typeof WRONG][] = [
      [c, 'name', 'string'],
      [c, 'budget', 'string'],
      [(c['defaults'] ??= {}), 'retries', 'integer'],
      [c['defaults'], 'timeout', 'string'],
      [pickLayer(c, rnd), 'name', 'string'],
      [pickLayer(c, rnd), 'apply', 'array'],
      [layersOf(c)[1]!, 'dependsOn', 'array'],
    ];
    const [obj, key, type] = fields[rnd(fields.length)]!;
    obj[key] = WRONG[type][rnd(WRONG[type].length)];
    return `wrong type of ${key}`;
  },
  (c, rnd) => {
    if (rnd(2) === 0) {
      delete pickLayer(c, rnd)['name'];
      return 'a layer without name';
    }
    delete c[rnd(2) === 0 ? 'name' : 'layers'];
    return 'a required field missing';
  },
  (c, rnd) => {
    const where = [c, (c['defaults'] ??= {}), pickLayer(c, rnd)][rnd(3)]!;
    where[`zz${rnd(1e6)}`] = rnd(2) ? 'x' : { deep: [1] };
    return 'an unknown field';
  },
  (c, rnd) => {
    const ls = layersOf(c);
    const i = rnd(3);
    const j = (i + 1 + rnd(2)) % 3;
    ls[i]!['dependsOn'] = [ls[j]!['name']];
    ls[j]!['dependsOn'] = [ls[i]!['name']];
    return 'a dependency cycle';
  },
  (c, rnd) => {
    pickLayer(c, rnd)['dependsOn'] = [`missing-${rnd(1000)}`];
    return 'an unknown dependency';
  },
  (c, rnd) => {
    const huge = [
      () => (c['name'] = 'n'.repeat(100_000 + rnd(900_000))),
      () => ((c['defaults'] ??= {}).retries = 10 ** (3 + rnd(300))),
      () => (c['budget'] = `${'9'.repeat(40 + rnd(400))}h`),
    ];
    huge[rnd(huge.length)]!();
    return 'a huge value';
  },
  (c, rnd) => {
    const ls = layersOf(c);
    ls.push({ ...ls[rnd(3)], dependsOn: [] });
    return 'a duplicate layer';
  },
  (c, rnd) => {
    pickLayer(c, rnd)['apply'] = [{ [`nokind${rnd(100)}`]: {} }];
    return 'an unknown step kind';
  },
];

/** `count` castle files, each with 1-3 mutations that each make it invalid. */
export function generatedCastles(seed: number, count: number): BadInput[] {
  const rnd = seeded(seed);
  const out: BadInput[] = [];
  for (let i = 0; i < count; i++) {
    const c = base();
    const what = new Set<string>();
    for (let m = 1 + rnd(3); m > 0; m--) what.add(MUTATIONS[rnd(MUTATIONS.length)]!(c, rnd));
    out.push({ name: `generated #${i} (seed ${seed}): ${[...what].join(', ')}`, file: 'castle.yaml', content: stringify(c, { lineWidth: 0 }) });
  }
  return out;
}

function randomBytes(seed: number, n: number): Buffer {
  const rnd = seeded(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rnd(256);
  return b;
}

const OK_HEAD = 'name: corpus\nlayers:\n  - name: one\n    apply: [{run: "true"}]\n';

export const HAND_WRITTEN_CASTLES: readonly BadInput[] = [
  { name: 'empty file', file: 'castle.yaml', content: '' },
  { name: 'only comments', file: 'castle.yaml', content: '# nothing here\n' },
  { name: 'a scalar document', file: 'castle.yaml', content: 'just words\n' },
  { name: 'a list document', file: 'castle.yaml', content: '- name: corpus\n' },
  { name: 'two documents', file: 'castle.yaml', content: `${OK_HEAD}---\n${OK_HEAD}` },
  { name: 'wrong types', file: 'castle.yaml', content: 'name: 12\nbudget: [1]\nlayers: {a: 1}\n' },
  { name: 'missing layers', file: 'castle.yaml', content: 'name: corpus\n' },
  { name: 'layer without name', file: 'castle.yaml', content: 'name: corpus\nlayers:\n  - apply: [{run: "true"}]\n' },
  {
    name: 'cycle of three',
    file: 'castle.yaml',
    content:
      'name: c\nlayers:\n  - {name: a, dependsOn: [c], apply: [{noop: {}}]}\n  - {name: b, dependsOn: [a], apply: [{noop: {}}]}\n  - {name: c, dependsOn: [b], apply: [{noop: {}}]}\n',
  },
  { name: 'self dependency', file: 'castle.yaml', content: 'name: c\nlayers:\n  - {name: a, dependsOn: [a], apply: [{noop: {}}]}\n' },
  { name: 'duplicate key', file: 'castle.yaml', content: `${OK_HEAD}name: again\n` },
  { name: 'tab indentation', file: 'castle.yaml', content: 'name: corpus\nlayers:\n\t- name: one\n' },
  { name: 'YAML syntax error', file: 'castle.yaml', content: 'name: corpus\nlayers: [\n  - {name: one\n' },
  { name: 'a step with two kinds', file: 'castle.yaml', content: 'name: c\nlayers:\n  - {name: a, apply: [{run: "true", noop: {}}]}\n' },
  { name: 'bad duration', file: 'castle.yaml', content: `${OK_HEAD}budget: 5 minutes\n` },
  { name: 'YAML alias bomb (9^9)', file: 'castle.yaml', content: `${OK_HEAD}local:\n${BOMB_LINES.map((l) => `  ${l}`).join('\n')}\n` },
  { name: 'deeply nested flow sequence (50,000)', file: 'castle.yaml', content: `${OK_HEAD}local: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n` },
  { name: 'deeply nested flow mappings (20,000)', file: 'castle.yaml', content: `${OK_HEAD}local: ${'{a: '.repeat(20_000)}1${'}'.repeat(20_000)}\n` },
  {
    name: 'deeply nested block mappings (1,500)',
    file: 'castle.yaml',
    content: `${OK_HEAD}local:\n${Array.from({ length: 1500 }, (_, i) => `${'  '.repeat(i + 1)}a:`).join('\n')} 1\n`,
  },
  { name: 'a 1 MB value', file: 'castle.yaml', content: `${OK_HEAD}description: [${'x'.repeat(1_000_000)}]\n` },
  {
    name: 'a 0.4 MB file of 10,000 layers, the last one broken',
    file: 'castle.yaml',
    content: `name: big\nlayers:\n${Array.from({ length: 10_000 }, (_, i) => `  - {name: l${i}, apply: [{noop: {}}]}`).join('\n')}\n  - {name: BROKEN}\n`,
  },
  {
    name: 'a 4 MB file of 100,000 layers',
    file: 'castle.yaml',
    content: `name: big\nlayers:\n${Array.from({ length: 100_000 }, (_, i) => `  - {name: l${i}, apply: [{noop: {}}]}`).join('\n')}\n`,
  },
  { name: 'a 50 MB single string', file: 'castle.yaml', content: `name: "${'s'.repeat(50 * 1024 * 1024)}"\nlayers: []\n` },
  {
    name: 'invalid UTF-8',
    file: 'castle.yaml',
    content: Buffer.concat([Buffer.from(OK_HEAD), Buffer.from([0x64, 0x65, 0x73, 0x63, 0x3a, 0x20, 0xc3, 0x28, 0xff, 0x0a])]),
  },
  { name: 'Latin-1 text', file: 'castle.yaml', content: Buffer.from(`${OK_HEAD}description: caf\xe9\n`, 'latin1') },
  { name: 'a binary file (4 KB of random bytes)', file: 'castle.yaml', content: randomBytes(7, 4096) },
  { name: 'an ELF header', file: 'castle.yaml', content: Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00]) },
];

const CLUSTER_HEAD = 'apiVersion: postgres-operator.crunchydata.com/v1beta1\nkind: PostgresCluster\nmetadata:\n  name: blog-db\n  namespace: blog\n';

export const HAND_WRITTEN_MANIFESTS: readonly BadInput[] = [
  { name: 'manifest: wrong types', file: 'db/cluster.yaml', content: `${CLUSTER_HEAD}spec:\n  postgresVersion: "fifteen"\n  instances: 3\n` },
  { name: 'manifest: missing spec fields', file: 'db/cluster.yaml', content: `${CLUSTER_HEAD}spec: {}\n` },
  { name: 'manifest: YAML syntax error', file: 'db/cluster.yaml', content: `${CLUSTER_HEAD}spec:\n  postgresVersion: [15\n` },
  { name: 'manifest: duplicate key', file: 'db/cluster.yaml', content: `${CLUSTER_HEAD}  name: other\nspec: {postgresVersion: 15}\n` },
  { name: 'manifest: alias bomb', file: 'db/cluster.yaml', content: `${CLUSTER_HEAD}${BOMB_LINES.join('\n')}\n` },
  { name: 'manifest: deeply nested (50,000)', file: 'db/cluster.yaml', content: `${CLUSTER_HEAD}spec: ${'['.repeat(50_000)}\n` },
  {
    name: 'manifest: invalid UTF-8',
    file: 'db/cluster.yaml',
    content: Buffer.concat([Buffer.from(CLUSTER_HEAD), Buffer.from([0x73, 0x70, 0x65, 0x63, 0x3a, 0x20, 0xff, 0xfe, 0x0a])]),
  },
  { name: 'manifest: binary', file: 'db/cluster.yaml', content: randomBytes(11, 4096) },
  { name: 'manifest: a 50 MB single string', file: 'db/cluster.yaml', content: `${CLUSTER_HEAD}spec:\n  postgresVersion: "${'9'.repeat(50 * 1024 * 1024)}"\n` },
];
