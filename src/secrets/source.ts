// Where secret values come from. Sources return values; they never log them.

export interface SecretSource {
  /** a human label for messages, e.g. `dotenv file /x/.env` (never contains a value) */
  readonly description: string;
  /** the value of `key`, or undefined when the source does not hold it */
  get(key: string): Promise<string | undefined>;
  /** the keys the source holds (names only) */
  list(): Promise<string[]>;
  /** stores a value (generated passwords); absent on read-only sources */
  set?(key: string, value: string): Promise<void>;
}

/** An in-memory source: handy for tests and for values already resolved elsewhere. */
export class MemorySource implements SecretSource {
  readonly description: string;
  readonly #values: Map<string, string>;

  constructor(values: Record<string, string> = {}, description = 'in-memory secrets') {
    this.#values = new Map(Object.entries(values));
    this.description = description;
  }

  async get(key: string): Promise<string | undefined> {
    return this.#values.get(key);
  }

  async list(): Promise<string[]> {
    return [...this.#values.keys()];
  }

  async set(key: string, value: string): Promise<void> {
    this.#values.set(key, value);
  }
}
