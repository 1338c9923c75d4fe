// murmurhash3js-revisited 3.0.0 ships no types: the part the fingerprint test uses as its reference.
declare module 'murmurhash3js-revisited' {
  const murmur: { x86: { hash128(bytes: Uint8Array, seed?: number): string } };
  export default murmur;
}
