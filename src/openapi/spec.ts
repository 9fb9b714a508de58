import type { ValidateFunction } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { readAsset } from '../assets.js';
import { isRole, ROLES, type Role } from '../auth/roles.js';
import { createAjv } from './ajv.js';
import { compileParameters, type ParameterReader } from './parameters.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Json = Record<string, unknown>;

/** An Operation is one method on one path of openapi.yaml, with its validators compiled. */
export interface Operation {
  readonly id: string;
  readonly method: HttpMethod;
  /** The full path template as clients see it, e.g. /api/v1/tasks/{id}. */
  readonly path: string;
  /** The same path in Express syntax, e.g. /api/v1/tasks/:id. */
  readonly routePath: string;
  /** Roles allowed to call it; null when the operation is public. */
  readonly roles: readonly Role[] | null;
  /** Set for cached reads: the TTL, and the resource whose writes invalidate it. */
  readonly cache: { readonly ttlSeconds: number; readonly resource: string } | null;
  readonly rateLimit: 'default' | 'login' | 'none';
  readonly body: { readonly required: boolean; readonly validate: ValidateFunction } | null;
  /** The path and query parameters as the spec declares them ($refs resolved). */
  readonly parameters: readonly Readonly<Json>[];
  readonly readPath: ParameterReader;
  readonly readQuery: ParameterReader;
  readonly responses: Readonly<Record<string, Json>>;
}

/** Spec is the loaded contract: the resolved document and its operations. */
export interface Spec {
  readonly document: Json;
  readonly operations: readonly Operation[];
  /** Operations grouped by routePath, for 405 answers. */
  readonly byRoutePath: ReadonlyMap<string, readonly Operation[]>;
}

const METHODS: readonly HttpMethod[] = ['get', 'post', 'put', 'patch', 'delete'];

/** loadSpec parses openapi.yaml and compiles one set of validators per operation, once. */
export function loadSpec(text = readAsset('openapi.yaml'), cacheTtlSeconds?: number): Spec {
  const document = parse(text) as Json;
  const resolved = dereference(document, document) as Json;
  checkRoleSchema(resolved);
  const paramAjv = createAjv('parameters');
  const bodyAjv = createAjv('bodies');
  const defaultBase = firstServerUrl(resolved) ?? '';
  const operations: Operation[] = [];

  for (const [template, pathItem] of Object.entries(resolved.paths as Record<string, Json>)) {
    const base = firstServerUrl(pathItem) ?? defaultBase;
    const path = joinPath(base, template);
    for (const method of METHODS) {
      const op = pathItem[method] as Json | undefined;
      if (!op) continue;
      const parameters = [...((pathItem.parameters as Json[]) ?? []), ...((op.parameters as Json[]) ?? [])];
      const requestBody = op.requestBody as Json | undefined;
      const bodySchema = (requestBody?.content as Record<string, Json> | undefined)?.['application/json']?.schema;
      operations.push({
        id: requiredString(op.operationId, `${method} ${template} has no operationId`),
        method,
        path,
        routePath: path.replace(/\{(\w+)\}/g, ':$1'),
        roles: rolesOf(op),
        cache: cacheOf(op, cacheTtlSeconds),
        rateLimit: (op['x-rate-limit'] as Operation['rateLimit'] | undefined) ?? 'default',
        body: bodySchema ? { required: requestBody?.required === true, validate: bodyAjv.compile(bodySchema as Json) } : null,
        parameters,
        readPath: compileParameters(paramAjv, parameters, 'path'),
        readQuery: compileParameters(paramAjv, parameters, 'query'),
        responses: op.responses as Record<string, Json>,
      });
    }
  }

  const byRoutePath = new Map<string, Operation[]>();
  for (const op of operations) byRoutePath.set(op.routePath, [...(byRoutePath.get(op.routePath) ?? []), op]);
  return { document, operations, byRoutePath };
}

/** cacheOf reads x-cache-ttl and x-cache-resource; an operator's CACHE_TTL_SECONDS replaces every TTL. */
function cacheOf(op: Json, ttlOverride: number | undefined): Operation['cache'] {
  const ttl = op['x-cache-ttl'];
  if (ttl === undefined) return null;
  const resource = op['x-cache-resource'];
  if (typeof ttl !== 'number' || ttl <= 0 || typeof resource !== 'string') {
    throw new Error(`${String(op.operationId)}: x-cache-ttl needs a positive number and x-cache-resource a name`);
  }
  return { ttlSeconds: ttlOverride ?? ttl, resource };
}

/** rolesOf reads x-roles; a role that src/auth/roles.ts does not define stops the spec from loading. */
function rolesOf(op: Json): Role[] | null {
  const roles = op['x-roles'];
  if (roles === undefined) return null;
  if (!Array.isArray(roles) || roles.length === 0) throw new Error(`${String(op.operationId)}: x-roles must be a non-empty list`);
  const unknown = roles.filter((role) => !isRole(role));
  if (unknown.length > 0) throw new Error(`${String(op.operationId)}: x-roles names ${unknown.join(', ')}, not a role of ROLES (${ROLES.join(', ')})`);
  return roles as Role[];
}

/** checkRoleSchema makes the spec's Role schema list exactly the roles of ROLES, so that requests and responses name no other. */
function checkRoleSchema(document: Json): void {
  const schema = ((document.components as Json | undefined)?.schemas as Json | undefined)?.Role as Json | undefined;
  const values = schema?.enum;
  if (!Array.isArray(values) || values.length !== ROLES.length || !ROLES.every((role) => values.includes(role))) {
    throw new Error(`components.schemas.Role must be an enum of exactly ${ROLES.join(', ')} (got ${JSON.stringify(values)})`);
  }
}

/** dereference replaces every local $ref with what it points at (the spec has no cycles). */
function dereference(node: unknown, root: Json, seen: readonly string[] = []): unknown {
  if (Array.isArray(node)) return node.map((item) => dereference(item, root, seen));
  if (node === null || typeof node !== 'object') return node;
  const { $ref, ...rest } = node as Json;
  if (typeof $ref === 'string') {
    if (!$ref.startsWith('#/') || seen.includes($ref)) throw new Error(`unsupported $ref ${$ref}`);
    const target = $ref
      .slice(2)
      .split('/')
      .reduce<unknown>((at, key) => (at as Json | undefined)?.[key.replaceAll('~1', '/').replaceAll('~0', '~')], root);
    if (target === undefined) throw new Error(`dangling $ref ${$ref}`);
    return { ...(dereference(target, root, [...seen, $ref]) as Json), ...(dereference(rest, root, seen) as Json) };
  }
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, dereference(value, root, seen)]));
}

function firstServerUrl(node: Json): string | undefined {
  const servers = node.servers as Array<{ url?: string }> | undefined;
  return servers?.[0]?.url;
}

function joinPath(base: string, template: string): string {
  return `${base.replace(/\/+$/, '')}${template}`;
}

function requiredString(value: unknown, message: string): string {
  if (typeof value !== 'string' || value === '') throw new Error(message);
  return value;
}
