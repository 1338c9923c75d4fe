// `npm run bench [-- engine|validate|rebirth ...]`: figures with ratios against baselines measured in the same run.
const [what = 'engine', ...rest] = process.argv.slice(2);
// as in the CLI: the pinned AWS SDK supports Node 20; its notice about future releases is noise here
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

switch (what) {
  case 'engine': {
    const { benchEngine } = await import('./engine.js');
    await benchEngine(rest);
    break;
  }
  case 'validate': {
    const { benchValidate } = await import('./validate.js');
    await benchValidate(rest);
    break;
  }
  case 'rebirth': {
    const { benchRebirth } = await import('./rebirth.js');
    await benchRebirth(rest);
    break;
  }
  case 'pgbackrest-options': {
    const { benchPgbackrestOptions } = await import('./rebirth/pgbackrest-options.js');
    await benchPgbackrestOptions(rest);
    break;
  }
  case 'gates': {
    const { benchGates } = await import('./gates.js');
    await benchGates(rest);
    break;
  }
  case 'fingerprint': {
    const { benchFingerprint } = await import('./fingerprint.js');
    await benchFingerprint(rest);
    break;
  }
  case 'proxmox': {
    const { benchProxmox } = await import('./proxmox.js');
    await benchProxmox(rest);
    break;
  }
  case 'all': {
    const { benchEngine } = await import('./engine.js');
    await benchEngine(rest);
    const { benchValidate } = await import('./validate.js');
    await benchValidate(rest);
    break;
  }
  default:
    process.stderr.write(`unknown benchmark '${what}': use engine, validate, rebirth, pgbackrest-options, fingerprint, proxmox, gates or all
`);
    process.exitCode = 2;
}
