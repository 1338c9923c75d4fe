export type { SecretSource, SourceResult } from './source.js';
export { MemorySource } from './source.js';
export { Redactor } from './redactor.js';
export { EnvSource } from './env.js';
export { DotenvSource, parseDotenv, checkSecretFileMode } from './dotenv.js';
export { InfisicalSource, type InfisicalOptions } from './infisical.js';
export { renderExternalSecret, type ManifestDoc, type RenderedSecret } from './external-secret.js';
export { renderTemplate, SUPPORTED_TEMPLATE_FUNCTIONS } from './template.js';
export { generatePassword, ensureSecret } from './generate.js';
