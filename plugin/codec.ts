// Value encoding: what set() stores in a hash field and what get() makes of it again, so that a
// value comes back with the type it went in with. The stored form stays readable in redis-cli:
//
//   a plain string         stored as it is           username     andrew
//   an integer             its decimal digits        page_views   3          (HINCRBY works on it)
//   true, false, null      those words               admin        true
//   other numbers, arrays  JSON                      ratio        0.5
//     and plain objects                              passport     {"id":42,"name":"ann"}
//   a string that would    JSON (quoted)             zip          "01234"
//     read back as another type ("3", "true", "{…}", "\"quoted\"")
//
// Reading: a value that is exactly true/false/null or a number in the form JavaScript writes it
// (String(n) gives it back: `3`, `-0.5`, `1e+21`, not `1.0`, `007` or 20 digits that a number cannot
// hold), or that starts with `"`, `{` or `[` and parses as JSON, is that JSON value; anything else is
// the string itself. Values written by 0.1 (every value a plain string) therefore still read: text
// that looks like a number, a boolean or JSON reads as that type, everything else as the string it
// always was, digit for digit.

/** A JSON value: what a session field can hold. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

// JSON's number grammar: only a stored value of this shape can read as a number.
const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/

/** The number a stored text stands for, if it is one exactly as String() writes it. */
function asNumber (s: string): number | undefined {
  if (!NUMBER.test(s)) return undefined
  const n = Number(s)
  return String(n) === s ? n : undefined
}

/** Whether a plain string, stored as it is, would read back as something else. */
function ambiguous (s: string): boolean {
  if (s.length === 0) return false
  const c = s.charCodeAt(0)
  // " { [ - 0-9 t f n: only strings starting with these can be taken for another type.
  if (c === 34 || c === 123 || c === 91) return true
  if (c === 45 || (c >= 48 && c <= 57)) return asNumber(s) !== undefined
  return s === 'true' || s === 'false' || s === 'null'
}

/**
 * The stored form of a value, or undefined when it is not a JSON value (the caller reports which
 * field). Finite numbers only; objects must be plain (no Date, Map, class instances), all the way down.
 */
export function encodeValue (value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return ambiguous(value) ? JSON.stringify(value) : value
    case 'number':
      return Number.isFinite(value) ? String(value) : undefined
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object':
      if (value === null) return 'null'
      return isJson(value, 0) ? JSON.stringify(value) : undefined
    default:
      return undefined
  }
}

/** What a stored value reads as. */
export function decodeValue (stored: string): JsonValue {
  if (stored.length === 0) return stored
  const c = stored.charCodeAt(0)
  if (c === 34 || c === 123 || c === 91) {
    try {
      return JSON.parse(stored) as JsonValue
    } catch {
      return stored // text of 0.1 that only starts like JSON
    }
  }
  if (c === 45 || (c >= 48 && c <= 57)) return asNumber(stored) ?? stored
  if (stored === 'true') return true
  if (stored === 'false') return false
  if (stored === 'null') return null
  return stored
}

const MAX_DEPTH = 64

function isJson (value: unknown, depth: number): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true
  if (typeof value === 'number') return Number.isFinite(value)
  if (typeof value !== 'object' || depth > MAX_DEPTH) return false
  if (Array.isArray(value)) {
    for (const item of value) if (!isJson(item, depth + 1)) return false
    return true
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return false
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key]
    // An undefined property is left out, as JSON.stringify does.
    if (item !== undefined && !isJson(item, depth + 1)) return false
  }
  return true
}
