import { resolve } from 'node:path';

type Env = Record<string, string | undefined>;

/** A Parser turns an operator's text into a value, or throws Invalid saying what it must be. */
export type Parser<T> = (value: string) => T;

/** Invalid is a parser's refusal: the end of the message after the variable's name. */
export class Invalid extends Error {}

/** One variable of the configuration table. */
export interface Setting<T> {
  readonly name: string;
  /** One line for .env.example and the README. */
  readonly doc: string;
  /** The text used when the variable is unset (parsed like an operator's), or null: unset stays null. */
  readonly fallback: string | null | (() => string);
  readonly parse: Parser<T>;
  /** The README's default column, when the fallback alone does not say it. */
  readonly shown?: string;
  /** The value .env.example shows commented out, when not the fallback. */
  readonly example?: string;
  /** Set by a supervisor (PM2, systemd), not by operators: left out of the generated docs. */
  readonly setBy?: string;
  /** An empty value is a value (LOG_DIR= means stdout only), not "unset". */
  readonly emptyIsValue?: boolean;
}

type SettingOptions = Partial<Pick<Setting<unknown>, 'shown' | 'example' | 'setBy' | 'emptyIsValue'>>;

/** setting declares a variable with a default. */
export function setting<T>(name: string, fallback: string | (() => string), parse: Parser<T>, doc: string, options: SettingOptions = {}): Setting<T> {
  return { name, fallback, parse, doc, ...options };
}

/** optional declares a variable that is null when unset. */
export function optional<T>(name: string, parse: Parser<T>, doc: string, options: SettingOptions = {}): Setting<T | null> {
  return { name, fallback: null, parse, doc, ...options };
}

/** A table of settings, nested as the Config it builds. */
export interface SettingsTable {
  readonly [key: string]: Setting<unknown> | SettingsTable;
}

/** The values a table builds: the same keys, each setting replaced by its parsed value. */
export type TableValues<T> = { readonly [K in keyof T]: T[K] extends Setting<infer V> ? V : TableValues<T[K]> };

/** isSetting tells a setting from a nested table. */
export function isSetting(entry: Setting<unknown> | SettingsTable): entry is Setting<unknown> {
  return typeof (entry as Setting<unknown>).parse === 'function';
}

/** settingsOf lists a table's settings in order, depth first. */
export function settingsOf(table: SettingsTable): Setting<unknown>[] {
  return Object.values(table).flatMap((entry) => (isSetting(entry) ? [entry] : settingsOf(entry)));
}

/** readTable parses every variable of the table from the environment; each refusal is added to problems. */
export function readTable<T extends SettingsTable>(table: T, env: Env, problems: string[]): TableValues<T> {
  return Object.fromEntries(
    Object.entries(table).map(([key, entry]) => [key, isSetting(entry) ? readSetting(entry, env, problems) : readTable(entry, env, problems)]),
  ) as TableValues<T>;
}

function readSetting<T>(entry: Setting<T>, env: Env, problems: string[]): T | null {
  const value = env[entry.name]?.trim();
  const unset = value === undefined || (value === '' && !entry.emptyIsValue);
  if (!unset) {
    try {
      return entry.parse(value);
    } catch (error) {
      if (!(error instanceof Invalid)) throw error;
      problems.push(`${entry.name} ${error.message}`);
    }
  }
  if (entry.fallback === null) return null;
  return entry.parse(typeof entry.fallback === 'function' ? entry.fallback() : entry.fallback);
}

/** text keeps the value as written. */
export const text: Parser<string> = (value) => value;

/** path resolves the value against the working directory. */
export const path: Parser<string> = (value) => resolve(value);

/** int accepts an integer in plain decimal digits from min to max, scaled by unit (1000 turns seconds into ms). */
export function int(min: number, max: number, unit = 1): Parser<number> {
  return (value) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value) || n < min || n > max) throw new Invalid(`must be an integer from ${min} to ${max} (got "${value}")`);
    return n * unit;
  };
}

/** bool accepts 1/true/yes/on and 0/false/no/off, in any case. */
export const bool: Parser<boolean> = (raw) => {
  const value = raw.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  throw new Invalid(`must be true or false (got "${value}")`);
};

/** oneOf accepts one of the allowed words, in any case, and returns it as listed. */
export function oneOf<T extends string>(allowed: readonly T[]): Parser<T> {
  return (value) => {
    const match = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
    if (match === undefined) throw new Invalid(`must be one of ${allowed.join(', ')} (got "${value}")`);
    return match;
  };
}

/** duration accepts seconds ("3600") or a number with a unit: s, m, h, d; from 10 s to 30 days. */
export const duration: Parser<number> = (value) => {
  const match = /^(\d+)\s*([smhd]?)$/.exec(value);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[match?.[2] ?? ''] ?? 1;
  const seconds = match ? Number(match[1]) * unit : NaN;
  if (!(seconds >= 10 && seconds <= 30 * 86_400)) throw new Invalid(`must be a duration from 10s to 30d, like 3600, 15m, 1h or 7d (got "${value}")`);
  return seconds;
};

/** size accepts a file size for the log rotation: 500k, 20m, 1g. */
export const size: Parser<string> = (value) => {
  if (/^\d+[kmg]$/i.test(value)) return value.toLowerCase();
  throw new Invalid(`must be a size like 500k, 20m or 1g (got "${value}")`);
};

/** url accepts a URL with one of the protocols; the refusal never repeats the value, which may hold a password. */
export function url(protocols: readonly string[]): Parser<string> {
  return (value) => {
    try {
      if (protocols.includes(new URL(value).protocol)) return value;
    } catch {
      // refused below
    }
    throw new Invalid(`must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  };
}

/** secret accepts a value of at least minBytes bytes of UTF-8; the refusal never repeats it. */
export function secret(minBytes: number, { count = false } = {}): Parser<string> {
  return (value) => {
    const bytes = Buffer.byteLength(value);
    if (bytes < minBytes) throw new Invalid(`must be at least ${minBytes} bytes${count ? ` (got ${bytes})` : ''}`);
    return value;
  };
}

/** directoryOrNone resolves a directory; an empty value means none (null). */
export const directoryOrNone: Parser<string | null> = (value) => (value === '' ? null : resolve(value));
