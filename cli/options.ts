/**
 * Parsers of command-line option values shared by the `switchboard`
 * commands (commander's argParser functions).
 *
 * @module
 */
import { InvalidArgumentError as CommanderArgError } from 'commander';

/**
 * An integer option in `min..max`.
 * @throws commander's InvalidArgumentError (reported as a usage error) otherwise.
 */
export function int(min: number, max: number): (v: string) => number {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new CommanderArgError(`Expected an integer ${min}..${max}.`);
    return n;
  };
}

/** A comma-separated list option: trimmed, empty items dropped. */
export function list(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * A comma-separated list of integers, each in `min..max`, at least one.
 * @throws commander's InvalidArgumentError (reported as a usage error) otherwise.
 */
export function intList(min: number, max: number): (v: string) => number[] {
  const one = int(min, max);
  return (v: string): number[] => {
    const items = list(v);
    if (items.length === 0) throw new CommanderArgError(`Expected integers ${min}..${max}, separated by commas.`);
    return items.map(one);
  };
}
