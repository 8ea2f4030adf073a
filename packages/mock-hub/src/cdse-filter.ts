import type { MockProduct } from "./catalogue";

export type Predicate = (p: MockProduct) => boolean;

/** Parses the `$filter` subset the downloader sends; throws RangeError naming a clause it cannot read. */
export function parseCdseFilter(filter: string): Predicate {
  const predicates = filter.trim() === "" ? [] : splitTopLevel(filter.trim()).map(parseClause);
  return (p) => predicates.every((predicate) => predicate(p));
}

function splitTopLevel(expression: string): string[] {
  let text = expression.trim();
  while (text.startsWith("(") && closingParen(text, 0) === text.length - 1) text = text.slice(1, -1).trim();
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'") quoted = !quoted;
    else if (!quoted && c === "(") depth++;
    else if (!quoted && c === ")") depth--;
    else if (!quoted && depth === 0 && /^\sor\s/i.test(text.slice(i, i + 4))) {
      throw new RangeError(`'or' is not imitated: ${text}`);
    } else if (!quoted && depth === 0 && /^\sand\s/i.test(text.slice(i, i + 5))) {
      parts.push(text.slice(from, i));
      from = i + 5;
    }
  }
  parts.push(text.slice(from));
  return parts.flatMap((part) => {
    const trimmed = part.trim();
    return trimmed.startsWith("(") && closingParen(trimmed, 0) === trimmed.length - 1
      ? splitTopLevel(trimmed)
      : [trimmed];
  });
}

function closingParen(text: string, open: number): number {
  let depth = 0;
  let quoted = false;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === "'") quoted = !quoted;
    else if (!quoted && c === "(") depth++;
    else if (!quoted && c === ")" && --depth === 0) return i;
  }
  return -1;
}

const COMPARE: Record<string, (a: number, b: number) => boolean> = {
  eq: (a, b) => a === b,
  ge: (a, b) => a >= b,
  gt: (a, b) => a > b,
  le: (a, b) => a <= b,
  lt: (a, b) => a < b,
};

function parseClause(clause: string): Predicate {
  let m = /^Collection\/Name eq '([^']*)'$/i.exec(clause);
  if (m !== null) {
    const collection = m[1];
    return () => collection === "SENTINEL-2";
  }
  m = /^(PublicationDate|ContentDate\/Start|ContentDate\/End) (eq|ge|gt|le|lt) '?([0-9T:.\-+Z]+)'?$/i.exec(
    clause,
  );
  if (m !== null) {
    const [, field = "", op = "", raw = ""] = m;
    const bound = Date.parse(raw);
    if (Number.isNaN(bound)) throw new RangeError(`cannot read the date in ${clause}`);
    const compare = COMPARE[op.toLowerCase()] ?? COMPARE.eq!;
    const pick = (p: MockProduct) =>
      field === "PublicationDate"
        ? p.publishedAt
        : field === "ContentDate/Start"
          ? p.sensingStart
          : p.sensingEnd;
    return (p) => compare(Date.parse(pick(p)), bound);
  }
  m =
    /^Attributes\/OData\.CSC\.StringAttribute\/any\(att:att\/Name eq '([^']+)' and att\/OData\.CSC\.StringAttribute\/Value eq '([^']*)'\)$/i.exec(
      clause,
    );
  if (m !== null) {
    const [, name = "", value = ""] = m;
    return (p) => stringAttributes(p)[name] === value;
  }
  m = /^(startswith|endswith|contains)\(Name,\s*'([^']*)'\)$/i.exec(clause);
  if (m !== null) {
    const [, fn = "", value = ""] = m;
    const test = {
      startswith: (name: string) => name.startsWith(value),
      endswith: (name: string) => name.endsWith(value),
      contains: (name: string) => name.includes(value),
    }[fn.toLowerCase() as "startswith"];
    return (p) => test(`${p.name}.SAFE`);
  }
  m = /^Name eq '([^']*)'$/.exec(clause);
  if (m !== null) {
    const name = m[1];
    return (p) => `${p.name}.SAFE` === name || p.name === name;
  }
  if (/^Online eq true$/i.test(clause)) return () => true;
  throw new RangeError(`the mock hub does not imitate the $filter clause: ${clause}`);
}

/** A product's CDSE string attributes, as the catalogue lists them and `$filter` matches them. */
export function stringAttributes(p: MockProduct): Record<string, string> {
  return {
    productType: "S2MSI1C",
    processingLevel: "S2MSI1C",
    platformShortName: "SENTINEL-2",
    platformSerialIdentifier: p.platform.slice(2),
    instrumentShortName: "MSI",
    tileId: p.tileId,
    origin: "ESA",
    processorVersion: "05.10",
    operationalMode: "INS-NOBS",
  };
}
