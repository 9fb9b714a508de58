import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { FieldProblem } from '../http/errors.js';

/**
 * createAjv builds the validator compiler. Nothing is coerced (parameters are parsed by
 * compileParameters first); parameters get the spec's defaults filled in. NaN and ±Infinity are
 * never numbers: a JSON body can spell Infinity as 1e400, and Ajv's range checks skip it.
 * The spec's schemas are not checked against JSON Schema's meta-schema here (compiling it costs
 * about 0.15 s of CPU in each process at each start): openapi.yaml ships inside the build, and
 * src/openapi/schemas.test.ts checks every schema of it against the meta-schema.
 */
export function createAjv(kind: 'parameters' | 'bodies'): Ajv2020 {
  const ajv = new Ajv2020({
    allErrors: true,
    strictNumbers: true,
    useDefaults: kind === 'parameters',
    allowUnionTypes: true,
    strict: true,
    validateSchema: false,
  });
  addFormats.default(ajv, ['date', 'date-time', 'email', 'int64']);
  // bcrypt reads 72 bytes; maxLength counts characters, so a multi-byte password needs its own check.
  ajv.addKeyword({
    keyword: 'x-max-bytes',
    type: 'string',
    schemaType: 'number',
    error: { message: ({ schema }) => `must NOT be longer than ${String(schema)} bytes` },
    validate: (max: number, data: string) => Buffer.byteLength(data, 'utf8') <= max,
  });
  return ajv;
}

/** toFieldProblems turns Ajv's errors into the API's errors[] entries. */
export function toFieldProblems(where: FieldProblem['in'], errors: readonly ErrorObject[] | null | undefined): FieldProblem[] {
  return (errors ?? []).map((error) => {
    const params = error.params as { missingProperty?: string; additionalProperty?: string };
    if (error.keyword === 'required' && params.missingProperty !== undefined) {
      return { in: where, pointer: `${error.instancePath}/${escapePointer(params.missingProperty)}`, message: 'is required' };
    }
    if (error.keyword === 'additionalProperties' && params.additionalProperty !== undefined) {
      return { in: where, pointer: `${error.instancePath}/${escapePointer(params.additionalProperty)}`, message: 'is not allowed' };
    }
    return { in: where, pointer: error.instancePath, message: error.message ?? 'is invalid' };
  });
}

function escapePointer(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}
