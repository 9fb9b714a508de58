import type { Ajv2020 } from 'ajv/dist/2020.js';
import type { FieldProblem } from '../http/errors.js';
import { toFieldProblems } from './ajv.js';

type Json = Record<string, unknown>;

/**
 * A ParameterReader checks the raw strings of one location (path or query) of an operation:
 * it returns the values with their declared types and the spec's defaults, or every problem.
 */
export type ParameterReader = (raw: Readonly<Record<string, unknown>>) =>
  | { readonly values: Record<string, unknown>; readonly problems: null }
  | { readonly values: null; readonly problems: FieldProblem[] };

// The one spelling of an integer a parameter accepts: decimal digits, no sign but a leading minus,
// no leading zero, no exponent, fraction, hex, blank or "-0".
const CANONICAL_INTEGER = /^(?:0|-?[1-9][0-9]*)$/;
// The same for a number, with an optional fraction that ends in a digit other than zero.
const CANONICAL_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?$/;

/**
 * compileParameters builds the reader of one location. Ajv's own coercion is not used: it reads
 * "0x1", "1e0", " 1" and "+1" as 1 and "1e400" as Infinity (which its minimum and maximum then
 * let through), so numbers are parsed here, canonical decimal only, and Ajv checks the result.
 */
export function compileParameters(ajv: Ajv2020, parameters: readonly Json[], location: 'path' | 'query'): ParameterReader {
  const mine = parameters.filter((p) => p.in === location);
  const validate = ajv.compile({
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(mine.map((p) => [p.name, p.schema ?? {}])),
    required: mine.filter((p) => p.required === true).map((p) => p.name),
  });
  const numeric = new Map<string, 'integer' | 'number'>();
  for (const p of mine) {
    const type = (p.schema as Json | undefined)?.type;
    if (type === 'integer' || type === 'number') numeric.set(p.name as string, type);
  }

  return function readParameters(raw) {
    const values: Record<string, unknown> = { ...raw };
    const problems: FieldProblem[] = [];
    for (const [name, type] of numeric) {
      const text = values[name];
      if (typeof text !== 'string') continue;
      const number = parseCanonical(text, type);
      if (number === undefined) problems.push({ in: location, pointer: `/${name}`, message: NOT_CANONICAL[type] });
      else values[name] = number;
    }
    if (!validate(values)) {
      const found = new Set(problems.map((p) => p.pointer));
      problems.push(...toFieldProblems(location, validate.errors).filter((p) => !found.has(p.pointer)));
    }
    return problems.length > 0 ? { values: null, problems } : { values, problems: null };
  };
}

const NOT_CANONICAL = {
  integer: 'must be an integer in plain decimal digits',
  number: 'must be a number in plain decimal digits',
} as const;

/** parseCanonical reads a canonical decimal; anything else, or a value a double cannot hold exactly, is undefined. */
export function parseCanonical(text: string, type: 'integer' | 'number'): number | undefined {
  if (!(type === 'integer' ? CANONICAL_INTEGER : CANONICAL_NUMBER).test(text)) return undefined;
  const number = Number(text);
  if (type === 'integer') return Number.isSafeInteger(number) ? number : undefined;
  return Number.isFinite(number) ? number : undefined;
}
