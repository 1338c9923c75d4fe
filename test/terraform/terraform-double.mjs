#!/usr/bin/env node
// A test double of the `terraform` CLI (Terraform 1.x), for the commands Castle runs: `version -json`,
// `init`, `plan` (-detailed-exitcode), `apply`/`destroy` (with -json, -auto-approve, -input=false, -no-color), `output -json`,
// `state list`, `state rm`, `force-unlock -force ID`. No Terraform binary is installable here (not in
// Debian nor npm), so this reproduces what Castle depends on, as HashiCorp documents it:
//  - exit codes: 0 success, 1 error;
//  - the machine-readable UI (one JSON object a line, `@level`, `@message`, `@module`, `@timestamp`,
//    `type`): version, planned_change, change_summary, apply_start, apply_progress, apply_complete,
//    apply_errored, diagnostic (severity, summary, detail, range {filename, start, end} with
//    line/column/byte), outputs; the `@message` texts follow internal/command/views/json (hook.go,
//    change_summary.go);
//  - the state-lock error: diagnostic summary `Error acquiring the state lock`, detail `Error message:
//    ...` then the `Lock Info:` block (ID, Path, Operation, Who, Version, Created, Info) and the
//    closing paragraph, as JSON or as plain text on stderr (-no-color);
//  - a v4 state file and a lock that survives a killed process (like the S3 backend's `.tflock`).
//
// It does not read *.tf files: the module's behaviour comes from `castle-double.json` in the working
// directory: {variables?: [name], requireEnv?: [name], cluster?: "host:port",
//   resources: [{type, name, id, seconds?, goneBehavior?: "error", fail?: {summary, detail, filename, line, column}}],
//   outputs?: {name: {value, sensitive?}}  (a value "${var.X}" is replaced by variable X), holdLockMs?}
// "Real objects" live in $TF_DOUBLE_CLOUD (one file per object): the apply creates them, the destroy
// deletes them, a test wipes them out-of-band. Licence: same as Castle (Apache-2.0).

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';

const VERSION = '1.9.8';
let args = process.argv.slice(2);
let cwd = process.cwd();
const chdir = args.find((a) => a.startsWith('-chdir='));
if (chdir) {
  cwd = resolve(cwd, chdir.slice('-chdir='.length));
  args = args.filter((a) => a !== chdir);
}
const [cmd, ...rest] = args;
const flags = new Set(rest.filter((a) => a.startsWith('-')));
const positional = rest.filter((a) => !a.startsWith('-'));
const json = flags.has('-json');
const color = !flags.has('-no-color');
const statePath = join(cwd, 'terraform.tfstate');
const lockPath = `${statePath}.tflock`;
const cloud = process.env.TF_DOUBLE_CLOUD ?? join(cwd, '.cloud');

// ---------- output ----------
const ts = () => new Date().toISOString().replace('Z', '000+00:00');
function ui(type, level, message, extra = {}) {
  process.stdout.write(`${JSON.stringify({ '@level': level, '@message': message, '@module': 'terraform.ui', '@timestamp': ts(), ...extra, type })}\n`);
}
function diagnostic(d) {
  if (json) {
    ui('diagnostic', d.severity, `${d.severity === 'error' ? 'Error' : 'Warning'}: ${d.summary}`, { diagnostic: d });
    return;
  }
  const lines = [`${d.severity === 'error' ? 'Error' : 'Warning'}: ${d.summary}`, ''];
  if (d.range) lines.push(`  on ${d.range.filename} line ${d.range.start.line}:`, '');
  if (d.detail) lines.push(...d.detail.split('\n'));
  // plain with -no-color, boxed otherwise (views.View.Diagnostics)
  const text = color ? ['╷', ...lines.map((l) => (l ? `│ ${l}` : '│ ')), '╵'].join('\n') : `\n${lines.join('\n')}\n`;
  process.stderr.write(`${text}\n`);
}
// thrown so that `finally` releases the lock, as Terraform does when an operation fails
class Exit extends Error {}
const fail = (d) => {
  diagnostic({ severity: 'error', ...d });
  throw new Exit();
};
const failText = (text) => {
  process.stderr.write(text);
  throw new Exit();
};
const addr = (r) => ({
  addr: `${r.type}.${r.name}`,
  module: '',
  resource: `${r.type}.${r.name}`,
  implied_provider: r.type.split('_')[0],
  resource_type: r.type,
  resource_name: r.name,
  resource_key: null,
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const goDuration = (s) => `${Math.round(s)}s`;

// ---------- module, state, lock ----------
function module() {
  const f = join(cwd, 'castle-double.json');
  if (!existsSync(f))
    fail({
      summary: 'No configuration files',
      detail: `Apply requires configuration to be present. Applying without a configuration would mark everything for destruction, which is normally not what is desired. If you would like to destroy everything, run 'terraform destroy' instead.`,
    });
  return JSON.parse(readFileSync(f, 'utf8'));
}
function readState() {
  if (!existsSync(statePath))
    return { version: 4, terraform_version: VERSION, serial: 0, lineage: randomUUID(), outputs: {}, resources: [], check_results: null };
  return JSON.parse(readFileSync(statePath, 'utf8'));
}
function writeState(s) {
  s.serial += 1;
  writeFileSync(statePath, `${JSON.stringify(s, null, 2)}\n`);
}
const goTime = (d) => {
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}${p(Math.floor(Math.random() * 1e6), 6)} +0000 UTC`;
};
function lockInfoText(i) {
  return `Lock Info:\n  ID:        ${i.ID}\n  Path:      ${i.Path}\n  Operation: ${i.Operation}\n  Who:       ${i.Who}\n  Version:   ${i.Version}\n  Created:   ${i.Created}\n  Info:      ${i.Info}\n`;
}
function acquireLock(operation) {
  if (flags.has('-lock=false')) return () => {};
  const info = {
    ID: randomUUID(),
    Operation: operation,
    Info: '',
    Who: `${userInfo().username}@${hostname()}`,
    Version: VERSION,
    Created: goTime(new Date()),
    Path: statePath,
  };
  try {
    const fd = openSync(lockPath, 'wx');
    writeSync(fd, JSON.stringify(info));
    closeSync(fd);
  } catch {
    const held = JSON.parse(readFileSync(lockPath, 'utf8'));
    fail({
      summary: 'Error acquiring the state lock',
      detail: `Error message: operation error S3: PutObject, https response error StatusCode: 412, api error PreconditionFailed: At least one of the pre-conditions you specified did not hold\n${lockInfoText(held)}\n\nTerraform acquires a state lock to protect the state from being written\nby multiple users at the same time. Please resolve the issue above and try\nagain. For most commands, you can disable locking with the "-lock=false"\nflag, but this is not recommended.`,
    });
  }
  return () => rmSync(lockPath, { force: true });
}
function requireInit() {
  if (!existsSync(join(cwd, '.terraform'))) {
    fail({
      summary: 'Backend initialization required, please run "terraform init"',
      detail:
        'Reason: Initial configuration of the requested backend "s3"\n\nThe "backend" is the interface that Terraform uses to store state,\nperform operations, etc. If this message is showing up, it means that the\nTerraform configuration you\'re using is using a custom configuration for\nthe Terraform backend.',
    });
  }
}
function vars(m) {
  const out = {};
  for (const v of m.variables ?? []) {
    const val = process.env[`TF_VAR_${v}`];
    if (val === undefined) {
      fail({
        summary: 'No value for required variable',
        detail: `The root module input variable "${v}" is not set, and has no default value. Use a -var or -var-file command line argument to provide a value for this variable.`,
        range: { filename: 'variables.tf', start: { line: 1, column: 1, byte: 0 }, end: { line: 1, column: 12 + v.length, byte: 11 + v.length } },
      });
    }
    out[v] = val;
  }
  for (const e of m.requireEnv ?? []) {
    if (!process.env[e])
      fail({
        summary: 'Missing provider credentials',
        detail: `The provider needs ${e} in the environment.`,
        range: { filename: 'providers.tf', start: { line: 1, column: 1, byte: 0 }, end: { line: 1, column: 20, byte: 19 } },
      });
  }
  return out;
}
const objectFile = (r) => join(cloud, `${r.type}.${r.id}.json`);
function clusterUp(m) {
  if (!m.cluster) return Promise.resolve(true);
  const [host, port] = m.cluster.split(':');
  return new Promise((res) => {
    const s = connect({ host, port: Number(port) });
    s.once('connect', () => (s.destroy(), res(true)));
    s.once('error', () => res(false));
  });
}

// ---------- commands ----------
async function refresh(m, state) {
  for (const sr of state.resources) {
    const r = (m.resources ?? []).find((x) => x.type === sr.type && x.name === sr.name) ?? { type: sr.type, name: sr.name };
    const id = sr.instances[0]?.attributes?.id;
    if (m.cluster && !(await clusterUp(m))) {
      fail({
        summary: 'Kubernetes cluster unreachable: Get "https://' + m.cluster + '/version": dial tcp ' + m.cluster + ': connect: connection refused',
        detail: '',
        range: { filename: 'main.tf', start: { line: 1, column: 1, byte: 0 }, end: { line: 1, column: 30, byte: 29 } },
      });
    }
    if (!existsSync(objectFile({ ...r, id }))) {
      if (r.goneBehavior === 'error')
        fail({
          summary: `${sr.type} ${id} not found: 500 vm '${id}' not found`,
          detail: '',
          address: `${sr.type}.${sr.name}`,
          range: { filename: 'main.tf', start: { line: 1, column: 1, byte: 0 }, end: { line: 1, column: 40, byte: 39 } },
        });
      sr.gone = true;
    }
  }
  state.resources = state.resources.filter((r) => !r.gone);
}

async function apply(destroy, planOnly = false) {
  const m = module();
  requireInit();
  const v = vars(m);
  if (!planOnly && !flags.has('-auto-approve'))
    fail({ summary: 'No value for the apply confirmation', detail: 'Interactive approval is disabled with -input=false: run with -auto-approve.' });
  if (json) ui('version', 'info', `Terraform ${VERSION}`, { terraform: VERSION, ui: '1.2' });
  const release = acquireLock(planOnly ? 'OperationTypePlan' : 'OperationTypeApply');
  try {
    if (m.holdLockMs) await sleep(m.holdLockMs);
    const state = readState();
    await refresh(m, state);
    const have = new Set(state.resources.map((r) => `${r.type}.${r.name}`));
    const changes = destroy
      ? state.resources.map((r) => ({ type: r.type, name: r.name, id: r.instances[0]?.attributes?.id }))
      : (m.resources ?? []).filter((r) => !have.has(`${r.type}.${r.name}`));
    const action = destroy ? 'delete' : 'create';
    for (const r of changes) if (json) ui('planned_change', 'info', `${r.type}.${r.name}: Plan to ${action}`, { change: { resource: addr(r), action } });
    const plan = { add: destroy ? 0 : changes.length, change: 0, import: 0, remove: destroy ? changes.length : 0, operation: 'plan' };
    if (json) ui('change_summary', 'info', `Plan: ${plan.add} to add, 0 to change, ${plan.remove} to destroy.`, { changes: plan });
    if (planOnly) {
      // -detailed-exitcode: 0 no changes, 1 error, 2 changes present
      if (changes.length > 0 && flags.has('-detailed-exitcode')) process.exitCode = 2;
      return;
    }
    for (const r of changes) {
      if (json)
        ui('apply_start', 'info', `${r.type}.${r.name}: ${destroy ? 'Destroying' : 'Creating'}...${destroy ? ` [id=${r.id}]` : ''}`, {
          hook: { resource: addr(r), action, ...(destroy ? { id_key: 'id', id_value: r.id } : {}) },
        });
      const secs = r.seconds ?? 0;
      if (secs > 0) {
        await sleep(secs * 1000);
        if (json)
          ui('apply_progress', 'info', `${r.type}.${r.name}: Still ${destroy ? 'destroying' : 'creating'}... [${goDuration(secs)} elapsed]`, {
            hook: { resource: addr(r), action, elapsed_seconds: secs },
          });
      }
      if (!destroy && r.fail) {
        if (json)
          ui('apply_errored', 'info', `${r.type}.${r.name}: Creation errored after ${goDuration(secs)}`, {
            hook: { resource: addr(r), action, elapsed_seconds: secs },
          });
        writeState(state);
        fail({
          summary: r.fail.summary,
          detail: r.fail.detail ?? '',
          address: `${r.type}.${r.name}`,
          range: {
            filename: r.fail.filename,
            start: { line: r.fail.line, column: r.fail.column, byte: 0 },
            end: { line: r.fail.line, column: r.fail.column + 10, byte: 10 },
          },
        });
      }
      if (destroy) {
        rmSync(objectFile(r), { force: true });
        state.resources = state.resources.filter((x) => !(x.type === r.type && x.name === r.name));
      } else {
        mkdirSync(cloud, { recursive: true });
        writeFileSync(objectFile(r), JSON.stringify({ type: r.type, name: r.name, id: r.id }));
        state.resources.push({
          mode: 'managed',
          type: r.type,
          name: r.name,
          provider: `provider["registry.terraform.io/hashicorp/${r.type.split('_')[0]}"]`,
          instances: [{ schema_version: 0, attributes: { id: r.id } }],
        });
      }
      if (json)
        ui(
          'apply_complete',
          'info',
          `${r.type}.${r.name}: ${destroy ? 'Destruction' : 'Creation'} complete after ${goDuration(secs)}${destroy ? '' : ` [id=${r.id}]`}`,
          { hook: { resource: addr(r), action, ...(destroy ? {} : { id_key: 'id', id_value: r.id }), elapsed_seconds: secs } },
        );
    }
    const outputs = {};
    if (!destroy) {
      for (const [k, o] of Object.entries(m.outputs ?? {})) {
        const value = typeof o.value === 'string' ? o.value.replace(/\$\{var\.([a-z_0-9]+)\}/g, (_, n) => v[n] ?? '') : o.value;
        outputs[k] = { sensitive: !!o.sensitive, type: typeof value === 'string' ? 'string' : 'number', value };
      }
    }
    state.outputs = outputs;
    writeState(state);
    if (json) {
      const done = destroy
        ? `Destroy complete! Resources: ${changes.length} destroyed.`
        : `Apply complete! Resources: ${changes.length} added, 0 changed, 0 destroyed.`;
      ui('change_summary', 'info', done, { changes: { add: plan.add, change: 0, import: 0, remove: plan.remove, operation: destroy ? 'destroy' : 'apply' } });
      ui('outputs', 'info', `Outputs: ${Object.keys(outputs).length}`, {
        outputs: Object.fromEntries(Object.entries(outputs).map(([k, o]) => [k, o.sensitive ? { sensitive: true, type: o.type } : o])),
      });
    } else {
      process.stdout.write(
        destroy
          ? `\nDestroy complete! Resources: ${changes.length} destroyed.\n`
          : `\nApply complete! Resources: ${changes.length} added, 0 changed, 0 destroyed.\n`,
      );
    }
  } finally {
    release();
  }
}

async function main() {
  switch (cmd) {
    case 'version':
      if (json)
        process.stdout.write(
          `${JSON.stringify({ terraform_version: VERSION, platform: 'linux_amd64', provider_selections: {}, terraform_outdated: false }, null, 2)}\n`,
        );
      else process.stdout.write(`Terraform v${VERSION}\non linux_amd64\n`);
      break;
    case 'init':
      module();
      mkdirSync(join(cwd, '.terraform'), { recursive: true });
      writeFileSync(join(cwd, '.terraform.lock.hcl'), '# This file is maintained automatically by "terraform init".\n');
      process.stdout.write('\nInitializing the backend...\n\nInitializing provider plugins...\n\nTerraform has been successfully initialized!\n');
      break;
    case 'apply':
      await apply(flags.has('-destroy'));
      break;
    case 'plan':
      await apply(flags.has('-destroy'), true);
      break;
    case 'destroy':
      await apply(true);
      break;
    case 'output': {
      requireInit();
      const s = readState();
      if (json) process.stdout.write(`${JSON.stringify(s.outputs ?? {}, null, 2)}\n`);
      else for (const [k, o] of Object.entries(s.outputs ?? {})) process.stdout.write(`${k} = ${o.sensitive ? '<sensitive>' : JSON.stringify(o.value)}\n`);
      break;
    }
    case 'state': {
      requireInit();
      const [sub, ...addrs] = positional;
      if (sub === 'list') {
        for (const r of readState().resources) process.stdout.write(`${r.mode === 'data' ? 'data.' : ''}${r.type}.${r.name}\n`);
      } else if (sub === 'rm') {
        if (addrs.length === 0) fail({ summary: 'Invalid target address', detail: 'At least one address is required.' });
        const release = acquireLock('OperationTypeInvalid');
        try {
          const s = readState();
          for (const a of addrs) {
            const before = s.resources.length;
            s.resources = s.resources.filter((r) => `${r.type}.${r.name}` !== a);
            if (s.resources.length === before)
              fail({
                summary: 'Invalid target address',
                detail: `No matching objects found. To view the available instances, use "terraform state list". Please modify the address to reference a specific instance.`,
              });
            process.stdout.write(`Removed ${a}\n`);
          }
          writeState(s);
          process.stdout.write(`Successfully removed ${addrs.length} resource instance(s).\n`);
        } finally {
          release();
        }
      } else fail({ summary: `Unknown state subcommand ${sub}` });
      break;
    }
    case 'force-unlock': {
      const id = positional[0];
      if (!id) fail({ summary: 'Expected a single argument: LOCK_ID' });
      if (!flags.has('-force')) fail({ summary: 'Interactive confirmation is disabled: use -force' });
      if (!existsSync(lockPath)) {
        failText(`Failed to unlock state: failed to retrieve lock info for lock ID "${id}": lock not found\n`);
      }
      const held = JSON.parse(readFileSync(lockPath, 'utf8'));
      if (held.ID !== id) {
        failText(`Failed to unlock state: lock ID "${id}" does not match existing lock ID "${held.ID}"\n`);
      }
      unlinkSync(lockPath);
      process.stdout.write(
        'Terraform state has been successfully unlocked!\n\nThe state has been unlocked, and Terraform commands should now be able to\nobtain a new lock on the remote state.\n',
      );
      break;
    }
    default:
      failText(`Terraform has no command named "${cmd}".\n\nTo see all of Terraform's top-level commands, run:\n  terraform -help\n\n`);
  }
}

try {
  await main();
} catch (e) {
  if (!(e instanceof Exit)) throw e;
  process.exitCode = 1;
}
