import assert from 'node:assert/strict';

/**
 * A test's requirement (a tool, root). Missing on a developer's machine, the test is skipped with the reason;
 * missing in CI (CI=true) it runs and fails at `check()`, so CI never passes on a skipped test.
 */
export function requirement(present: boolean, why: string): { readonly skip: string | false; check(): void } {
  const ci = process.env['CI'] === 'true';
  return {
    skip: present || ci ? false : why,
    check() {
      assert.ok(present, `${why}: with CI=true a missing requirement fails the test (.ci/run installs what the tests need)`);
    },
  };
}
