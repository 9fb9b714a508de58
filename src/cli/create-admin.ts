import { parseArgs } from 'node:util';
import { createPasswordHasher } from '../auth/passwords.js';
import { ADMIN_ROLE } from '../auth/roles.js';
import type { Config } from '../config.js';
import { migrate } from '../db/migrations.js';
import { createWriter } from '../db/write.js';
import { AppError } from '../http/errors.js';
import { toFieldProblems } from '../openapi/ajv.js';
import { loadSpec } from '../openapi/spec.js';
import { createUserRepository, toUser } from '../users/repository.js';
import { openStateDatabase } from './state-files.js';
import { CommandError, EXIT_USAGE } from './command-error.js';

const USAGE = `usage: backend-api create-admin <username> <email>
       backend-api create-admin --username <username> --email <email>
The password is read from stdin (its first line) or, on a terminal, asked for twice without echo.`;

/** The most stdin may hold: a password is at most 72 bytes, so anything much longer is a mistake. */
const MAX_STDIN_BYTES = 64 * 1024;

interface Account {
  readonly username: string;
  readonly email: string;
}

/**
 * createAdminCommand creates an administrator account (migrating an empty database first), so a
 * fresh install needs no public sign-up; the password never appears on the command line.
 */
export async function createAdminCommand(config: Config, args: string[], input: NodeJS.ReadStream = process.stdin): Promise<void> {
  const account = parseAccount(args);
  const password = input.isTTY ? await promptTwice(input) : await readFirstLine(input);
  checkAgainstContract({ ...account, password });

  const db = openStateDatabase(config);
  const passwords = createPasswordHasher({ rounds: config.bcryptRounds, maxWaitMs: config.bcryptMaxWaitMs });
  try {
    migrate(db);
    const passwordHash = await passwords.hash(password);
    const row = createUserRepository(db, createWriter(db)).create({ ...account, passwordHash }, () => ADMIN_ROLE);
    process.stdout.write(`${JSON.stringify(toUser(row))}\n`);
  } catch (error) {
    // Taken username or email: the API's own conflict, said to the operator.
    if (error instanceof AppError) throw new CommandError(error.detail);
    throw error;
  } finally {
    await passwords.close();
    db.close();
  }
}

function parseAccount(args: string[]): Account {
  if (args.some((arg) => /^--?pass/i.test(arg))) {
    throw new CommandError(`the password is never taken from the command line (shell history, ps)\n${USAGE}`, EXIT_USAGE);
  }
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { username: { type: 'string' }, email: { type: 'string' } },
  });
  const username = values.username ?? positionals.shift();
  const email = values.email ?? positionals.shift();
  if (username === undefined || email === undefined || positionals.length > 0) throw new CommandError(USAGE, EXIT_USAGE);
  return { username, email };
}

/** checkAgainstContract applies registerUser's request schema from openapi.yaml: the same rules as a sign-up. */
function checkAgainstContract(body: Account & { password: string }): void {
  const validate = loadSpec().operations.find((op) => op.id === 'registerUser')?.body?.validate;
  if (!validate) throw new Error('openapi.yaml has no registerUser request body');
  if (validate(body)) return;
  const lines = toFieldProblems('body', validate.errors).map((problem) => `${problem.pointer.slice(1) || 'body'}: ${problem.message}`);
  throw new CommandError(`invalid account:\n  ${lines.join('\n  ')}`);
}

/** readFirstLine reads a piped password: the first line of stdin, without its line ending. */
async function readFirstLine(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    chunks.push(bytes);
    size += bytes.length;
    if (size > MAX_STDIN_BYTES) throw new CommandError('stdin holds more than a password; pipe just the password');
  }
  const line = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  if (line === '') throw new CommandError(`no password on stdin\n${USAGE}`, EXIT_USAGE);
  return line;
}

async function promptTwice(input: NodeJS.ReadStream): Promise<string> {
  const first = await promptHidden(input, 'Password: ');
  const second = await promptHidden(input, 'Repeat the password: ');
  if (first !== second) throw new CommandError('the passwords differ');
  return first;
}

/** promptHidden reads one line from the terminal in raw mode, so the characters typed are never echoed. */
function promptHidden(input: NodeJS.ReadStream, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error?: CommandError) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n') return finish();
        // Ctrl-C, or Ctrl-D on an empty line: the operator gives up (128 + SIGINT, as a shell reports it).
        if (char === '\u0003' || (char === '\u0004' && typed === '')) return finish(new CommandError('cancelled', 130));
        if (char === '\u007f' || char === '\b') typed = [...typed].slice(0, -1).join('');
        else if (char >= ' ') typed += char;
      }
    };
    input.setEncoding('utf8');
    // Raw before the prompt shows: whatever is typed once it is visible is never echoed.
    input.setRawMode(true);
    process.stderr.write(prompt);
    input.on('data', onData);
    input.resume();
  });
}
