// Just enough HTML reading to check what the report emits, without a DOM library.
import assert from 'node:assert/strict';

const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link']);

/** Tags balance, text and attributes hold no raw markup, every `&` starts a known entity. */
export function assertWellFormed(html: string): void {
  assert.match(html, /^<!doctype html>\n<html lang="en">/);
  const body = html.replace(/^<!doctype html>/, '').replace(/<style>[\s\S]*?<\/style>/, '<style></style>');
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+(?:="[^"<]*")?)*)\s*(\/?)>/g;
  let last = 0;
  for (const m of body.matchAll(tag)) {
    checkText(body.slice(last, m.index));
    last = m.index + m[0].length;
    const [, closing, name, attrs, self] = m as unknown as [string, string, string, string, string];
    for (const a of attrs.matchAll(/="([^"]*)"/g)) checkText(a[1]!);
    if (self || VOID.has(name.toLowerCase())) continue;
    if (closing) assert.equal(stack.pop(), name, `</${name}> closes <${stack.at(-1) ?? 'nothing'}>`);
    else stack.push(name);
  }
  checkText(body.slice(last));
  assert.deepEqual(stack, [], 'every tag closed');
}

function checkText(text: string): void {
  assert.ok(!/[<>]/.test(text), `raw markup in text: ${JSON.stringify(text.slice(0, 80))}`);
  for (const m of text.matchAll(/&/g)) {
    assert.match(text.slice(m.index), /^&(amp|lt|gt|quot|#39);/, `bare & in ${JSON.stringify(text.slice(0, 80))}`);
  }
}

export interface Rect {
  readonly attrs: Record<string, string>;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** Every `<rect>` whose class list starts with `cls`. */
export function rects(html: string, cls: string): Rect[] {
  return [...html.matchAll(new RegExp(`<rect class="${cls}[ "][^>]*>`, 'g'))].map((m) => {
    const attrs = Object.fromEntries([...m[0].matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!]));
    return { attrs, x: Number(attrs['x']), y: Number(attrs['y']), width: Number(attrs['width']), height: Number(attrs['height']) };
  });
}

export function svgAttr(html: string, svgClass: string, name: string): number {
  const m = new RegExp(`<svg class="${svgClass}"[^>]*\\s${name}="([^"]*)"`).exec(html);
  assert.ok(m, `svg.${svgClass} has ${name}`);
  return Number(m[1]);
}
