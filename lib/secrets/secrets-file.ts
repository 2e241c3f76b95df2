/**
 * The local secrets file, read strictly: a mistake fails with the file and line named, and never shows a
 * value. One `NAME=value` per line; blank lines and `#` comments are skipped.
 *   NAME=value        unquoted: trimmed, not empty, and without `#` (a comment or part of the value?)
 *   NAME="value"      double-quoted: `\n`, `\"` and `\\` escapes, and may span lines (certificates)
 *   NAME='value'      single-quoted: taken as written, and may span lines
 * A name may appear once. Values round-trip exactly.
 */
export class SecretsFileError extends Error {}

const LINE = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;

export function parseSecretsFile(text: string, file: string): Record<string, string> {
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  const values: Record<string, string> = {};
  const firstLine = new Map<string, number>();
  const problems: string[] = [];
  for (let index = 0; index < lines.length; index++) {
    const number = index + 1;
    const line = lines[index];
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const match = LINE.exec(line);
    if (!match) {
      problems.push(`${file}:${number}: is not a NAME=value line`);
      continue;
    }
    const [, name, rest] = match;
    let value: string;
    const quote = rest[0];
    if (quote === '"' || quote === "'") {
      // The value runs to the matching quote, on this line or a later one.
      let body = rest.slice(1);
      let end = closingQuote(body, quote);
      while (end < 0 && index + 1 < lines.length) {
        index++;
        body += `\n${lines[index]}`;
        end = closingQuote(body, quote);
      }
      if (end < 0) {
        problems.push(
          `${file}:${number}: ${name} has an unterminated ${quote === '"' ? "double" : "single"} quote`,
        );
        continue;
      }
      if (body.slice(end + 1).trim() !== "") {
        problems.push(`${file}:${number}: ${name} has text after its closing quote`);
        continue;
      }
      const raw = body.slice(0, end);
      value = quote === '"' ? raw.replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c)) : raw;
    } else {
      value = rest.trim();
      if (value.includes("#")) {
        problems.push(
          `${file}:${number}: ${name} has an unquoted '#'; quote the value ("...") if it belongs to it`,
        );
        continue;
      }
    }
    if (value === "") {
      problems.push(`${file}:${number}: ${name} is empty; give it a value or remove the line`);
      continue;
    }
    const first = firstLine.get(name);
    if (first !== undefined) {
      problems.push(`${file}:${number}: ${name} is set again (first on line ${first})`);
      continue;
    }
    firstLine.set(name, number);
    values[name] = value;
  }
  if (problems.length > 0) throw new SecretsFileError(problems.join("\n"));
  return values;
}

/** Index of the unescaped closing quote in `body`, or -1. */
function closingQuote(body: string, quote: string): number {
  for (let i = 0; i < body.length; i++) {
    if (quote === '"' && body[i] === "\\") i++;
    else if (body[i] === quote) return i;
  }
  return -1;
}
