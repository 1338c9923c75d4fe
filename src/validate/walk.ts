/** What every walk of a tree leaves out (the inputs, their size, Flux's variables files): dot entries and node_modules. */
export function skipped(name: string): boolean {
  return name.startsWith('.') || name === 'node_modules';
}
