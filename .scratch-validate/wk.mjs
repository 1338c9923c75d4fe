import { analyzeInWorkers } from '../dist/src/validate/pool.js';
const t = performance.now();
const r = await analyzeInWorkers([{file: 'a.yaml', text: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n'}, {file: 'b.yaml', text: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n'}], { cacheDir: '/tmp/ccb', kubernetesVersion: undefined, crds: [], options: { rebirth: false } });
console.log('workers', r.workers, (performance.now() - t).toFixed(0), 'ms');
