/** The body reader lives in the shared HTTP server block (src/server/body.ts). */
export { BodyError, contentCoding, readBody, type Body, type BodyLimits, type ContentCoding } from '../../src/server/body.js';
