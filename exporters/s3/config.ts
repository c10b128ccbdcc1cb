import type { ConfigProblem } from '../../src/component.js';
import { OBJECT_PATH } from '../../integrations/amberflo/objects.js';
import { ByteSize, Settings, Type, type Static } from '../../src/config/declare.js';
import { objectExporterKeys } from '../../src/output/delivery.js';
import { routingPathProblems } from '../../src/output/routing.js';
import { isActive, whenProblems } from '../../src/output/when.js';

/** S3's smallest multipart part (and so the smallest threshold worth a multipart upload). */
const MIN_PART_BYTES = 5 * 1024 * 1024;

/** The s3 exporter's config, declared once: schema, defaults, docs and type. */
export const configSchema = Settings(
  {
    bucket: Type.String({ default: '', description: 'Bucket name (AFLO_BUCKET_NAME). Required.' }),
    region: Type.String({ default: '', description: "AWS region (AWS_REGION). Empty = the SDK's own resolution (env, profile)." }),
    endpoint: Type.String({ default: '', description: 'Custom endpoint URL for S3-compatible stores (MinIO, s3rver, R2...). Empty = AWS.' }),
    force_path_style: Type.Boolean({
      default: false,
      description: 'Address buckets as <endpoint>/<bucket> instead of <bucket>.<endpoint> (most S3-compatible stores need true).',
    }),
    access_key_id: Type.String({
      default: '',
      description: "Static access key id. Empty = the SDK's default credential chain (env, shared profile, SSO, IRSA/web identity, ECS/EC2 instance role).",
    }),
    secret_access_key: Type.String({ default: '', description: 'Static secret key (with access_key_id).' }),
    session_token: Type.String({ default: '', description: 'Session token for temporary static credentials (optional).' }),
    server_side_encryption: Type.Enum(['', 'AES256', 'aws:kms'], {
      default: '',
      description: 'Server-side encryption: "" (bucket default), "AES256" (SSE-S3) or "aws:kms" (SSE-KMS).',
    }),
    kms_key_id: Type.String({ default: '', description: 'KMS key id/ARN for aws:kms (empty = the AWS-managed key).' }),
    storage_class: Type.Enum(['', 'STANDARD', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR', 'REDUCED_REDUNDANCY'], {
      default: '',
      description: 'Storage class of new objects ("" = bucket default, STANDARD).',
    }),
    acl: Type.Enum(['', 'private', 'bucket-owner-full-control'], {
      default: '',
      description: 'Canned ACL ("" = none; bucket-owner-full-control for cross-account writes to ACL-enabled buckets).',
    }),
    checksums: Type.Enum(['when_required', 'when_supported'], {
      default: 'when_required',
      description: 'Request checksums: "when_required" (works with S3-compatible stores) or "when_supported" (the SDK default on AWS).',
    }),
    conditional_put: Type.Boolean({
      default: true,
      description:
        'PUT with If-None-Match: *, so that an object is never written over another with the same key (two batches whose JSON has the same CRC-32): S3 answers 412, the exporter reads the object there and, if it holds other records, writes under a derived key. false for stores that reject the header.',
    }),
    multipart_threshold_bytes: ByteSize({
      default: '16MiB',
      description: 'Objects at least this large (compressed) use multipart upload (a number of bytes or a size like "16MiB"; at least 5MiB).',
    }),
    multipart_part_size_bytes: ByteSize({
      default: '8MiB',
      description: 'Part size of multipart uploads (a number of bytes or a size like "8MiB"; at least 5MiB).',
    }),
    ...objectExporterKeys(OBJECT_PATH, { bucket: Type.Optional(Type.String({ minLength: 1, description: 'Bucket for this route.' })) }, 'bucket or prefix'),
  },
  { description: 's3 exporter settings.' },
);

export type S3ExporterConfig = Static<typeof configSchema>;

/** Checks a schema cannot express: sizes written as strings, the `when` selector, and (when active) a bucket and consistent credentials. */
export function validate(c: S3ExporterConfig): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  // Sizes may be written like "8MiB", so their minimum is checked on the converted value.
  for (const k of ['multipart_threshold_bytes', 'multipart_part_size_bytes'] as const) {
    if (c[k] < MIN_PART_BYTES) out.push({ path: k, message: `must be at least 5MiB (${MIN_PART_BYTES} bytes)` });
  }
  out.push(...whenProblems(c.when));
  if (!isActive(c.when)) return out;
  out.push(...routingPathProblems(c));
  if (!c.bucket) out.push({ path: 'bucket', message: 'is required (set AFLO_BUCKET_NAME or bucket:)' });
  if (!!c.access_key_id !== !!c.secret_access_key) {
    out.push({
      path: 'access_key_id',
      message: 'access_key_id and secret_access_key must be set together (or both left empty for the default credential chain)',
    });
  }
  if (c.kms_key_id && c.server_side_encryption !== 'aws:kms') out.push({ path: 'kms_key_id', message: 'needs server_side_encryption: aws:kms' });
  if (c.endpoint && !/^https?:\/\//.test(c.endpoint)) out.push({ path: 'endpoint', message: 'must be an http(s):// URL' });
  return out;
}
