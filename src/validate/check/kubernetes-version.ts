/** `37` from `1.37.2` or `v1.37`; undefined when not a version */
export function minorOf(version: string | undefined): number | undefined {
  const m = /^v?1\.(\d+)/.exec(version ?? '');
  return m ? Number(m[1]) : undefined;
}

/** Whether the target cluster runs Kubernetes 1.37 or later, whose CEL rules see capped names and stricter list types. */
export function from137(version: string | undefined): boolean {
  return (minorOf(version) ?? 0) >= 37;
}
