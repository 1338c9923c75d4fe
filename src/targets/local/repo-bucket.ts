import type { RepoBucket, S3RepoSpec } from '../../data/pgbackrest.js';
import { s3Bucket } from '../../s3/client.js';

/** repo1 as the data layer reads it: the S3 endpoint pgBackRest is configured with, through the S3 client. */
export function repo1Bucket(r1: S3RepoSpec): RepoBucket {
  return s3Bucket({
    endpoint: `https://${r1.host}:${r1.port}`,
    region: r1.region,
    bucket: r1.bucket,
    accessKeyId: r1.accessKeyId,
    secretAccessKey: r1.secretAccessKey,
    ...(r1.caPem ? { caPem: r1.caPem } : {}),
    verifyTls: r1.verifyTls !== false,
    pathStyle: (r1.uriStyle ?? 'path') === 'path',
  });
}
