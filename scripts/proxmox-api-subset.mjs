// Extracts the part of the Proxmox VE API schema that Castle calls (and its test server serves) from the
// apidata the API viewer is generated from (proxmox/pve-docs api-viewer/apidata.js, as gzipped JSON).
// Descriptions are dropped; types, formats, ranges, patterns, enums and returns are kept as published.
// Usage: node scripts/proxmox-api-subset.mjs <pve-apidata.json.gz> [out.json]
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export const ENDPOINTS = [
  ['POST', '/access/ticket'],
  ['GET', '/cluster/resources'],
  ['GET', '/nodes/{node}/status'],
  ['POST', '/nodes/{node}/qemu'],
  ['GET', '/nodes/{node}/qemu/{vmid}/config'],
  ['PUT', '/nodes/{node}/qemu/{vmid}/config'],
  ['DELETE', '/nodes/{node}/qemu/{vmid}'],
  ['POST', '/nodes/{node}/qemu/{vmid}/clone'],
  ['PUT', '/nodes/{node}/qemu/{vmid}/resize'],
  ['GET', '/nodes/{node}/qemu/{vmid}/status/current'],
  ['POST', '/nodes/{node}/qemu/{vmid}/status/start'],
  ['POST', '/nodes/{node}/qemu/{vmid}/status/stop'],
  ['POST', '/nodes/{node}/qemu/{vmid}/agent/ping'],
  ['GET', '/nodes/{node}/tasks'],
  ['GET', '/nodes/{node}/tasks/{upid}/status'],
  ['GET', '/nodes/{node}/tasks/{upid}/log'],
];

const DROP = new Set(['description', 'verbose_description', 'typetext', 'format_description', 'title', 'renderer', 'links']);

function strip(v) {
  if (Array.isArray(v)) return v.map(strip);
  if (v && typeof v === 'object') {
    const out = {};
    for (const k of Object.keys(v).sort()) if (!DROP.has(k)) out[k] = strip(v[k]);
    return out;
  }
  return v;
}

const [src, out = 'test/proxmox/pve-api-subset.json'] = process.argv.slice(2);
if (!src) {
  process.stderr.write('usage: node scripts/proxmox-api-subset.mjs <pve-apidata.json.gz> [out.json]\n');
  process.exit(2);
}
const all = JSON.parse(gunzipSync(readFileSync(src)).toString('utf8'));
const byPath = new Map();
const walk = (nodes) => {
  for (const n of nodes) {
    byPath.set(n.path, n);
    walk(n.children ?? []);
  }
};
walk(all);
const endpoints = {};
for (const [method, path] of ENDPOINTS) {
  const info = byPath.get(path)?.info?.[method];
  if (!info) throw new Error(`${method} ${path} is not in ${src}`);
  endpoints[`${method} ${path}`] = strip({ allowtoken: info.allowtoken, protected: info.protected, parameters: info.parameters, returns: info.returns });
}
const doc = {
  source:
    'proxmox/pve-docs api-viewer/apidata.js at e5010dcea566a205770572cfbc5fe0af220d5077 (PVE 9.1.3, AGPL-3.0), converted to JSON; this subset (descriptions dropped) made by scripts/proxmox-api-subset.mjs',
  endpoints,
};
writeFileSync(out, JSON.stringify(doc, null, 1) + '\n');
process.stdout.write(`${Object.keys(endpoints).length} endpoints -> ${out}\n`);
