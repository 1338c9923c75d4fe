import type { Diagnostic } from '../diag/diagnostic.js';

/**
 * The manifests a castle applies (see castleManifestPaths). What `castle validate`
 * checks when given no paths. The spec loader and kind registry are loaded lazily: validating files
 * does not need them.
 */
export async function castleManifests(
  file: string,
): Promise<{ ok: true; paths: string[]; targetFindings: Diagnostic[] } | { ok: false; diagnostics: readonly Diagnostic[] }> {
  const [{ loadCastle }, { defaultRegistry }, { castleManifestPaths }] = await Promise.all([
    import('../spec/load.js'),
    import('../targets/registry.js'),
    import('../spec/manifests.js'),
  ]);
  const loaded = await loadCastle(file, defaultRegistry());
  if (!loaded.ok) return { ok: false, diagnostics: loaded.diagnostics };
  const castle = loaded.value;
  // the files of the targets' own formats (Talos patches) the castle names
  const targetFindings = castle.uses.flatMap((t) => t.checkFiles?.(castle.targets[t.name], castle.dir) ?? []);
  return { ok: true, paths: castleManifestPaths(castle), targetFindings };
}
