// The plan's stack-file reader on its own; tests/engine/cli-config.test.ts compares it with the real CLI.
import { describe, expect, it } from "vitest";
import { parseStackFile, resolvePlain, StackFileError } from "../lib/plan/stack-file";

const read = (text: string) => parseStackFile(text, "proj");

describe("stack file reader (as gopkg.in/yaml.v3 and the Pulumi CLI read it)", () => {
  it.each([
    ["0123", 83n],
    ["0x1F", 31n],
    ["0o17", 15n],
    ["0b101", 5n],
    ["-0b11", -3n],
    ["1_000", 1000n],
    ["+7", 7n],
    ["09", 9],
    ["3.0", 3],
    [".5", 0.5],
    ["1e3", 1000],
    ["18446744073709551615", 18446744073709551615n],
    ["18446744073709551616", 18446744073709552000],
    ["yes", "yes"],
    ["on", "on"],
    ["True", true],
    ["~", null],
    ["0x", "0x"],
  ])("resolves the plain scalar %s", (text, expected) => {
    expect(resolvePlain(text)).toEqual(expected);
  });

  it.each([
    ["2026-11-01", "2026-11-01 00:00:00 +0000 UTC"],
    ["2026-1-2", "2026-01-02 00:00:00 +0000 UTC"],
    ["2026-11-01T10:00:00Z", "2026-11-01 10:00:00 +0000 UTC"],
    ["2026-11-01T10:00:00.250+02:00", "2026-11-01 10:00:00.25 +0200 +0200"],
    ["2026-11-01 10:00:00", "2026-11-01 10:00:00 +0000 UTC"],
  ])("reads the unquoted date %s as Go prints a timestamp", (text, expected) => {
    expect(read(`config:\n  proj:date: ${text}\n`).config).toEqual({ "proj:date": expected });
  });

  it("keeps impossible dates as strings", () => {
    expect(resolvePlain("2026-02-30")).toBe("2026-02-30");
  });

  it("turns values into the strings the engine hands a program", () => {
    const { config, secretKeys, notices } = read(
      [
        "config:",
        "  proj:count: 3",
        '  proj:quoted: "0123"',
        "  proj:list: [10, 0x10, b, {z: 1, a: '<&>'}]",
        "  proj:empty:",
        "  bare: value",
        "  aws:region: eu-west-1",
        "  proj:config:legacy: x",
        "  proj:token:",
        "    secure: v1:abc",
      ].join("\n"),
    );
    expect(config).toEqual({
      "proj:count": "3",
      "proj:quoted": "0123",
      "proj:list": '[10,16,"b",{"a":"\\u003c\\u0026\\u003e","z":1}]',
      "proj:empty": "",
      "proj:bare": "value",
      "aws:region": "eu-west-1",
      "proj:legacy": "x",
      "proj:token": "[secret]",
    });
    expect(secretKeys).toEqual(["proj:token"]);
    expect(notices).toEqual([`'proj:empty' has no value; Pulumi reads it as "" (write "" to say so)`]);
  });

  it("reports top-level keys Pulumi ignores, and accepts the ones it writes", () => {
    const { notices } = read("encryptionsalt: v1:x\nsecretsprovider: passphrase\nconfgi:\n  a: 1\n");
    expect(notices).toEqual([
      "'confgi' is not a stack file setting; Pulumi ignores it (known: secretsprovider, encryptedkey, encryptionsalt, config, environment)",
    ]);
  });

  it.each([
    ["config: [a]\n", "'config' must be a map of keys to values"],
    ["config:\n  a:b:c: 1\n", "config key 'a:b:c' is not of the form <namespace>:<name>"],
    ["config:\n  x: 1\n  proj:x: 2\n", "config key 'proj:x' is set twice (with and without its namespace)"],
    ["environment: [spectral/alpha]\n", "'environment' imports Pulumi ESC environments"],
    ["config:\n  a: 1\n  a: 2\n", "is not valid YAML"],
    ["config:\n  proj:n: .nan\n", "config key 'proj:n': NaN cannot be stored"],
    ["- a\n", "must be a map of stack settings"],
  ])("refuses %j", (text, message) => {
    expect(() => read(text)).toThrow(StackFileError);
    expect(() => read(text)).toThrow(message);
  });
});
