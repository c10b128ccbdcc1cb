import type { ObjectExporterCommonConfig } from '../../src/output/delivery.js';
import { commonObjectSchemaProps } from '../../src/output/delivery.js';
import { defaultRetryConfig, retryConfigSchema, type RetryConfig } from '../../src/output/retry.js';
import { routingSchema, type RoutingConfig, routingPathProblems } from '../../src/output/routing.js';
import { isActive, whenProblems, whenSchema, type WhenConfig } from '../../src/output/when.js';

export interface S3RouteOverride {
  bucket?: string;
  path?: string;
}

export interface S3ExporterConfig extends ObjectExporterCommonConfig {
  bucket: string;
  region: string;
  endpoint: string;
  force_path_style: boolean;
  access_key_id: string;
  secret_access_key: string;
  session_token: string;
  server_side_encryption: '' | 'AES256' | 'aws:kms';
  kms_key_id: string;
  storage_class: string;
  acl: string;
  checksums: 'when_required' | 'when_supported';
  conditional_put: boolean;
  multipart_threshold_bytes: number;
  multipart_part_size_bytes: number;
  routing?: RoutingConfig<S3RouteOverride>;
  retry_on_failure: RetryConfig;
  when?: WhenConfig;
}

export const defaultConfig = (): S3ExporterConfig => ({
  bucket: '',
  region: '',
  endpoint: '',
  force_path_style: false,
  access_key_id: '',
  secret_access_key: '',
  session_token: '',
  server_side_encryption: '',
  kms_key_id: '',
  storage_class: '',
  acl: '',
  checksums: 'when_required',
  conditional_put: true,
  multipart_threshold_bytes: 16 * 1024 * 1024,
  multipart_part_size_bytes: 8 * 1024 * 1024,
  path: 'litellm-metering',
  timeout: '30s',
  max_records_per_object: 10_000,
  retry_on_failure: defaultRetryConfig(),
});

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    bucket: { type: 'string', description: 'Bucket name (AFLO_BUCKET_NAME). Required.' },
    region: { type: 'string', description: 'AWS region (AWS_REGION). Empty = the SDK\'s own resolution (env, profile).' },
    endpoint: { type: 'string', description: 'Custom endpoint URL for S3-compatible stores (MinIO, s3rver, R2...). Empty = AWS.' },
    force_path_style: { type: 'boolean', description: 'Address buckets as <endpoint>/<bucket> instead of <bucket>.<endpoint> (default false; most S3-compatible stores need true).' },
    access_key_id: { type: 'string', description: 'Static access key id. Empty = the SDK\'s default credential chain (env, shared profile, SSO, IRSA/web identity, ECS/EC2 instance role).' },
    secret_access_key: { type: 'string', description: 'Static secret key (with access_key_id).' },
    session_token: { type: 'string', description: 'Session token for temporary static credentials (optional).' },
    server_side_encryption: { enum: ['', 'AES256', 'aws:kms'], description: 'Server-side encryption: "" (bucket default), "AES256" (SSE-S3) or "aws:kms" (SSE-KMS).' },
    kms_key_id: { type: 'string', description: 'KMS key id/ARN for aws:kms (empty = the AWS-managed key).' },
    storage_class: {
      enum: ['', 'STANDARD', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR', 'REDUCED_REDUNDANCY'],
      description: 'Storage class of new objects ("" = bucket default, STANDARD).',
    },
    acl: { enum: ['', 'private', 'bucket-owner-full-control'], description: 'Canned ACL ("" = none; bucket-owner-full-control for cross-account writes to ACL-enabled buckets).' },
    checksums: {
      enum: ['when_required', 'when_supported'],
      description: 'Request checksums: "when_required" (default; works with S3-compatible stores) or "when_supported" (the SDK default on AWS).',
    },
    conditional_put: {
      type: 'boolean',
      description:
        'PUT with If-None-Match: * (default true), so that an object is never written over another with the same key (two batches whose JSON has the same CRC-32): S3 answers 412, the exporter reads the object there and, if it holds other records, writes under a derived key. false for stores that reject the header.',
    },
    multipart_threshold_bytes: { type: 'integer', minimum: 5242880, description: 'Objects at least this large (compressed) use multipart upload (default 16 MiB).' },
    multipart_part_size_bytes: { type: 'integer', minimum: 5242880, description: 'Part size of multipart uploads (default 8 MiB).' },
    ...commonObjectSchemaProps,
    routing: routingSchema(
      {
        bucket: { type: 'string', minLength: 1, description: 'Bucket for this route.' },
        path: { type: 'string', description: 'Key prefix for this route.' },
      },
      'bucket or prefix',
    ),
    retry_on_failure: retryConfigSchema,
    when: whenSchema,
  },
} as const;

export function validate(c: S3ExporterConfig): { path: string; message: string }[] {
  const out = whenProblems(c.when);
  if (!isActive(c.when)) return out;
  out.push(...routingPathProblems(c));
  if (!c.bucket) out.push({ path: 'bucket', message: 'is required (set AFLO_BUCKET_NAME or bucket:)' });
  if (!!c.access_key_id !== !!c.secret_access_key) {
    out.push({ path: 'access_key_id', message: 'access_key_id and secret_access_key must be set together (or both left empty for the default credential chain)' });
  }
  if (c.kms_key_id && c.server_side_encryption !== 'aws:kms') out.push({ path: 'kms_key_id', message: 'needs server_side_encryption: aws:kms' });
  if (c.endpoint && !/^https?:\/\//.test(c.endpoint)) out.push({ path: 'endpoint', message: 'must be an http(s):// URL' });
  return out;
}
