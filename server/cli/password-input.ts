// Reading a new password for the CLI: from a file (--password-file, "-" = stdin), or typed at a
// terminal without echo (asked twice). Never from an argument: those end up in shell history and ps.
import { readFile } from 'node:fs/promises';
import { UsageError } from './usage-error.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Asks once on the terminal with echo off. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    let value = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err); else resolve(value);
    };
    const onData = (s: string) => {
      for (const ch of s) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new UsageError('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** The first line of the file (or of stdin for "-"), or a password typed twice at a terminal. */
export async function readNewPassword(passwordFile: string | undefined): Promise<string> {
  if (passwordFile !== undefined) {
    let text: string;
    try {
      text = passwordFile === '-' ? await readStdin() : await readFile(passwordFile, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read the password file: ${(err as Error).message}`);
    }
    return text.split(/\r?\n/)[0];
  }
  if (!process.stdin.isTTY) throw new UsageError('no terminal to type a password: use --password-file <file> (or - for stdin)');
  const first = await promptHidden('New password: ');
  const second = await promptHidden('Repeat it: ');
  if (first !== second) throw new UsageError('the two passwords differ');
  return first;
}
