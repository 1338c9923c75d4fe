import type { SourceLocation } from '../diag/diagnostic.js';

export interface Edge {
  readonly from: string;
  readonly to: string;
  readonly location: SourceLocation;
}

/**
 * One cycle per strongly connected component (Tarjan), as its list of edges, so a diagnostic can name
 * every edge of it. Deterministic: nodes and edges are visited in declaration order.
 */
export function findCycles(nodes: readonly string[], edges: readonly Edge[]): Edge[][] {
  const out = new Map<string, Edge[]>();
  for (const e of edges) (out.get(e.from) ?? out.set(e.from, []).get(e.from)!).push(e);
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const sccs: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const e of out.get(v) ?? []) {
      if (!idx.has(e.to)) {
        strong(e.to);
        low.set(v, Math.min(low.get(v)!, low.get(e.to)!));
      } else if (onStack.has(e.to)) low.set(v, Math.min(low.get(v)!, idx.get(e.to)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) sccs.push(scc);
    }
  };
  for (const n of nodes) if (!idx.has(n)) strong(n);
  // Within each component, walk from its first-declared node until we come back to it.
  return sccs.map((scc) => {
    const members = new Set(scc);
    const start = nodes.find((n) => members.has(n))!;
    const path: Edge[] = [];
    const visited = new Set<string>();
    const walk = (v: string): boolean => {
      visited.add(v);
      for (const e of out.get(v) ?? []) {
        if (!members.has(e.to)) continue;
        path.push(e);
        if (e.to === start) return true;
        if (!visited.has(e.to) && walk(e.to)) return true;
        path.pop();
      }
      return false;
    };
    walk(start);
    return path;
  });
}
