// Bundles the blog (dist/src/targets/local/blog/main.js and pg) into one file, dist/blog/blog.cjs: the local
// target copies it into the castle's data folder, where the unprivileged user that runs it can read it
// (it cannot read a checkout under a mode-0700 folder such as /root).
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/src/targets/local/blog/main.js'],
  outfile: 'dist/blog/blog.cjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // pg's optional native binding and its Cloudflare socket are never used by the blog
  external: ['pg-native', 'cloudflare:sockets'],
  logLevel: 'warning',
  legalComments: 'inline',
});
