// `npm run schema`: writes schema/castle.schema.json from the schema in code and the registered step kinds.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultRegistry } from '../targets/registry.js';
import { castleJsonSchema } from './json-schema.js';

const out = resolve(dirname(fileURLToPath(import.meta.url)), '../../../schema/castle.schema.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(castleJsonSchema(defaultRegistry()), null, 2) + '\n');
process.stdout.write(`${out}\n`);
