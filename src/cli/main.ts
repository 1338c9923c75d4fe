#!/bin/sh
//usr/bin/env true; case "$1 $*" in "validate "*" --cluster"* | "validate "*" --kubeconfig"* | "validate "*" --context"*) ;; "validate "*) if [ -n "${NODE_EXTRA_CA_CERTS+x}" ]; then CASTLE_NODE_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS; export CASTLE_NODE_EXTRA_CA_CERTS; unset NODE_EXTRA_CA_CERTS; fi ;; esac; exec node --v8-pool-size=0 --max-semi-space-size=8 --initial-old-space-size=48 "$0" "$@"
// The castle command is run by sh, which runs Node with these options (the line above is a comment to Node; `env -S`
// would need GNU coreutils 8.30 and is missing from BusyBox). --v8-pool-size=0: V8's background threads (compiling, GC)
// sized to the machine's cores, not Node's fixed 4: on 2 cores `castle validate` of 10,000 documents takes 1.13-1.32 s
// against 1.23-1.84 with 4. --max-semi-space-size=8 (MiB, half the default): validate's objects die young, and a young
// generation that fits the CPU's caches is collected faster: 1.09-1.18 s against 1.12-1.28, peak RSS 102 MiB against 119
// (6 runs each). --initial-old-space-size=48 (MiB): V8 starts the old generation's limit at 13 MiB, which the schemas
// and a 10,000-document run's findings pass, and then marks and compacts it (27 ms of the run); with 48 it does not:
// 0.97-1.00 s against 0.98-1.04 (the faster half of 16 runs each), peak RSS 89 MiB either way, and 165 MiB at 100,000
// documents either way. bench/validate.ts runs the CLI as this line does.
// `castle validate` without a cluster makes no TLS connection, and Node 20 reads the certificates of NODE_EXTRA_CA_CERTS
// when it starts: the 144 of Debian's bundle took 40 ms of each run (4 ms on Node 24). For that command
// sh moves the variable aside, and the first lines below put it back for the processes castle starts (kubectl).
import { existsSync } from 'node:fs';

// moved aside by the line at the top, for Node not to read the certificates it names at start
const extraCa = process.env['CASTLE_NODE_EXTRA_CA_CERTS'];
if (extraCa !== undefined) {
  process.env['NODE_EXTRA_CA_CERTS'] = extraCa;
  delete process.env['CASTLE_NODE_EXTRA_CA_CERTS'];
}

// The pinned AWS SDK supports Node 20; its notice about future releases is not the user's concern.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

// `validate` and `schemas` load the validator only: the other commands load every target, whose
// Kubernetes client alone is ~700 modules (0.7 s of CPU and 60 MB before the first document).
const sub = process.argv[2];
if (sub === 'validate' || sub === 'schemas') {
  // the validator as one file with its packages, when built (scripts/bundle-validate.mjs): loading its ~70 modules one
  // by one took 25 ms more of each run
  const bundle = new URL('../validate/cli.bundle.js', import.meta.url);
  const { main } = (await import(existsSync(bundle) ? bundle.href : './validate-main.js')) as typeof import('./validate-main.js');
  await main();
} else {
  const [{ runCastle }, { registerValidateCommands }, init, imp, plan, run, inspect, report] = await Promise.all([
    import('./program.js'),
    import('../validate/cli.js'),
    import('./init-command.js'),
    import('./import-command.js'),
    import('./plan-command.js'),
    import('./run-commands.js'),
    import('./inspect-commands.js'),
    import('./report-command.js'),
  ]);
  await runCastle((program) => {
    init.registerInitCommand(program);
    imp.registerImportCommand(program);
    plan.registerPlanCommand(program);
    run.registerRunCommands(program);
    inspect.registerInspectCommands(program);
    report.registerReportCommands(program);
    registerValidateCommands(program);
  });
}
