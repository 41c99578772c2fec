/*
 * The one way JSON text from outside (stdin, caches, configuration files, annotations, NADs, API answers, plugin
 * output) becomes a value. JSON.parse itself copes with deep nesting, but everything that walks the value afterwards
 * (re-marshalling, copying, comparing) recurses and would die with "Maximum call stack size exceeded": nesting is
 * bounded before parsing, and every error says where in the text it is.
 */

/** Far beyond any real configuration (a few levels), far below what recursion over the value can survive. */
export const MAX_JSON_DEPTH = 512;

import { CniError, ErrorCode } from './errors';

/** JSON that cannot be used, with its position: a decoding error (CNI code 6) wherever it ends up. */
function undecodable(msg: string): CniError {
  return new CniError(ErrorCode.DecodingFailure, msg);
}

function position(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return `line ${line}, column ${offset - lineStart + 1}`;
}

/** Whether `text` has more than `limit` opening brackets, strings included: an upper bound of its nesting. */
function manyBrackets(text: string, limit: number): boolean {
  let n = 0;
  for (const open of ['{', '[']) {
    for (let i = text.indexOf(open); i >= 0; i = text.indexOf(open, i + 1)) if (++n > limit) return true;
  }
  return false;
}

/** Throws when objects and arrays nest deeper than `maxDepth`, naming where the limit was passed. */
function checkDepth(text: string, maxDepth: number): void {
  // Every real text has a few dozen brackets: counting them with the native indexOf spares the character-by-character
  // walk below, which a short-lived process runs in V8's interpreter (tens of microseconds per plugin result).
  if (!manyBrackets(text, maxDepth)) return;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > maxDepth) throw undecodable(`JSON nested deeper than ${maxDepth} levels at ${position(text, i)}`);
    } else if (c === 125 || c === 93) depth--;
  }
}

/** JSON.parse with bounded nesting; an error (a CniError with code 6) names the line and column. */
export function parseJson(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  checkDepth(text, maxDepth);
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const at = /at position (\d+)/.exec(msg);
    const offset = at ? Number(at[1]) : text.length;
    throw undecodable(at ? `${msg} (${position(text, offset)})` : msg);
  }
}
