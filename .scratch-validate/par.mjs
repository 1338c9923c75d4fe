import { validateManifests } from '../dist/src/validate/index.js';
for (const parallel of [false, true, false, true]) {
  const t = performance.now();
  const r = await validateManifests(['/tmp/bx50k'], { cacheDir: '/tmp/ccb', parallel });
  console.log('parallel', parallel, r.stats.workers, (performance.now() - t).toFixed(0), 'ms', r.stats.errors, r.stats.warnings);
}
