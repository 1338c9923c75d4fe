// The data machinery of Castle's local target: PostgreSQL + pgBackRest + S3, with the rebirth steps.
export * from './proc.js';
export * from './postgres.js';
export * from './pgbackrest.js';
export * from './fingerprint.js';
export * from './rebirth.js';
export * from '../s3/client.js';
export * from '../s3/server.js';
export { ensureTls, tlsFiles, type TlsFiles } from '../s3/tls.js';
export * from './gate-core.js';
