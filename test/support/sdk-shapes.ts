/**
 * Checks JSON against the installed `stripe` SDK's generated types, the description of every object at the
 * API version that SDK pins. The types are read from the SDK's .d.ts with the TypeScript API (TypeScript 7's
 * `typescript/unstable/sync`, which runs the compiler in a child process), so an SDK upgrade that moves a
 * field changes what this accepts without anyone copying a schema.
 *
 * The rules, per object: every key present is declared (a field removed since, or never there, is a
 * problem); every property not marked optional is present (nullable ones may be null, never absent); each
 * value matches its declared type, recursively. Unions of objects are told apart by their `object` literal,
 * events by their `type`. A `Decimal` is a decimal string on the wire.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { API, SymbolFlags, TypeFlags, type Checker, type Symbol as TsSymbol, type Type } from 'typescript/unstable/sync';

const HERE = dirname(fileURLToPath(import.meta.url));
const PROJECT = join(HERE, 'sdk-types', 'tsconfig.json');
const ENTRY = join(HERE, 'sdk-types', 'served-types.ts');
const ROOT_TYPE = 'ServedTypes';

export interface SdkShapes {
  /** Every `object` value the checker knows a type for (the keys of ServedTypes). */
  readonly objects: readonly string[];
  /** Problems of one Stripe object, found by its own `object` field; [] when it matches. */
  check(value: unknown, path?: string): string[];
  /** Problems of `value` read as the type served under `object` (e.g. 'event'). */
  checkAs(object: string, value: unknown, path?: string): string[];
  /** The string literals of a type alias served-types.ts exports (an SDK enum, without its OtherString). */
  stringLiterals(alias: string): string[];
  close(): void;
}

interface Property {
  name: string;
  optional: boolean;
  symbol: TsSymbol;
}

interface Shape {
  properties: Map<string, Property>;
  /** The value type of a string index signature (`Metadata`), when there is one. */
  index: Type | null;
}

type Json = Record<string, unknown>;

const isPlainObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const DECIMAL = /^-?\d+(\.\d+)?$/;
const describe = (value: unknown) => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : JSON.stringify(value));

export function openSdkShapes(): SdkShapes {
  const api = new API({ cwd: join(HERE, '..', '..') });
  const snapshot = api.updateSnapshot({ openProject: PROJECT });
  const project = snapshot.getProjects()[0];
  if (!project) throw new Error(`the TypeScript API opened no project for ${PROJECT}`);
  const checker: Checker = project.checker;
  const entry = project.program.getSourceFile(ENTRY);
  /** A type the entry file declares (an interface or a type alias), by name. */
  const declaredType = (name: string): Type => {
    const declaration = entry?.statements.find((s) => (s as { name?: { text?: string } }).name?.text === name) as { name?: unknown } | undefined;
    const symbol = declaration?.name ? (checker.getSymbolAtLocation(declaration.name as never) as TsSymbol | undefined) : undefined;
    if (!symbol) throw new Error(`${ENTRY} declares no ${name}`);
    return checker.getDeclaredTypeOfSymbol(symbol);
  };
  const root = declaredType(ROOT_TYPE);

  const served = new Map<string, Type>();
  for (const property of checker.getPropertiesOfType(root)) {
    const type = checker.getTypeOfSymbol(property);
    if (type) served.set(property.name, type);
  }

  // Every answer of the compiler is cached by id: a check walks the same few hundred types many times.
  const shapes = new Map<number, Shape>();
  const propertyTypes = new Map<number, Type>();
  const members = new Map<number, readonly Type[]>();
  const elements = new Map<number, Type | null>();
  const literals = new Map<string, string | null>();
  const decimals = new Map<number, boolean>();
  const eventTypes = new Map<string, Type>();

  const shapeOf = (type: Type): Shape => {
    let shape = shapes.get(type.id);
    if (!shape) {
      const properties = new Map<string, Property>();
      for (const symbol of checker.getPropertiesOfType(type)) {
        properties.set(symbol.name, { name: symbol.name, optional: (symbol.flags & SymbolFlags.Optional) !== 0, symbol });
      }
      const index = checker.getIndexInfosOfType(type).find((info) => (info.keyType.flags & TypeFlags.String) !== 0);
      shape = { properties, index: index?.valueType ?? null };
      shapes.set(type.id, shape);
    }
    return shape;
  };
  const typeOfProperty = (property: Property): Type => {
    let type = propertyTypes.get(property.symbol.id);
    if (!type) {
      type = checker.getTypeOfSymbol(property.symbol);
      if (!type) throw new Error(`no type for property ${property.name}`);
      propertyTypes.set(property.symbol.id, type);
    }
    return type;
  };
  const membersOf = (type: Type): readonly Type[] => {
    let list = members.get(type.id);
    if (!list) {
      list = (type as Type & { getTypes(): readonly Type[] }).getTypes() ?? [];
      members.set(type.id, list);
    }
    return list;
  };
  const elementOf = (type: Type): Type | null => {
    if (!elements.has(type.id)) {
      elements.set(type.id, checker.isArrayType(type) ? (checker.getTypeArguments(type as never)[0] ?? null) : null);
    }
    return elements.get(type.id) ?? null;
  };
  /** The string literal a property of an object type is fixed to (`object: 'charge'`), or null. */
  const literalOf = (type: Type, name: string): string | null => {
    const key = `${type.id}.${name}`;
    if (!literals.has(key)) {
      const property = shapeOf(type).properties.get(name);
      const propertyType = property ? typeOfProperty(property) : null;
      literals.set(key, propertyType && propertyType.flags & TypeFlags.StringLiteral ? String((propertyType as Type & { value: string }).value) : null);
    }
    return literals.get(key) ?? null;
  };
  const isDecimal = (type: Type): boolean => {
    if (!decimals.has(type.id)) {
      const parts = type.flags & TypeFlags.Intersection ? membersOf(type) : [type];
      decimals.set(type.id, parts.some((part) => part.getSymbol()?.name === 'DecimalImpl'));
    }
    return decimals.get(type.id) ?? false;
  };
  const eventTypeFor = (type: string): Type | undefined => {
    if (eventTypes.size === 0) {
      for (const member of membersOf(served.get('event')!)) {
        const literal = literalOf(member, 'type');
        if (literal !== null) eventTypes.set(literal, member);
      }
    }
    return eventTypes.get(type);
  };

  function checkValue(value: unknown, type: Type, path: string, out: string[]): void {
    const flags = type.flags;
    if (flags & (TypeFlags.Any | TypeFlags.Unknown)) return;
    if (flags & TypeFlags.Union) return checkUnion(value, type, path, out);
    if (isDecimal(type)) {
      if (typeof value !== 'string' || !DECIMAL.test(value)) out.push(`${path}: ${describe(value)} is not a decimal string`);
      return;
    }
    if (flags & TypeFlags.Intersection) {
      for (const member of membersOf(type)) checkValue(value, member, path, out);
      return;
    }
    if (flags & TypeFlags.StringLiteral) {
      const expected = (type as Type & { value: string }).value;
      if (value !== expected) out.push(`${path}: ${describe(value)} is not ${JSON.stringify(expected)}`);
      return;
    }
    if (flags & TypeFlags.NumberLiteral) {
      const expected = (type as Type & { value: number }).value;
      if (value !== expected) out.push(`${path}: ${describe(value)} is not ${expected}`);
      return;
    }
    if (flags & TypeFlags.BooleanLiteral) {
      const expected = (type as Type & { value: boolean }).value === true;
      if (value !== expected) out.push(`${path}: ${describe(value)} is not ${expected}`);
      return;
    }
    if (flags & (TypeFlags.String | TypeFlags.TemplateLiteral)) {
      if (typeof value !== 'string') out.push(`${path}: ${describe(value)} is not a string`);
      return;
    }
    if (flags & TypeFlags.Number) {
      if (typeof value !== 'number') out.push(`${path}: ${describe(value)} is not a number`);
      return;
    }
    if (flags & TypeFlags.Boolean) {
      if (typeof value !== 'boolean') out.push(`${path}: ${describe(value)} is not a boolean`);
      return;
    }
    if (flags & TypeFlags.Null) {
      if (value !== null) out.push(`${path}: ${describe(value)} is not null`);
      return;
    }
    if (flags & (TypeFlags.Undefined | TypeFlags.Void)) {
      if (value !== undefined) out.push(`${path}: present, but the SDK types it ${flags & TypeFlags.Void ? 'void' : 'undefined'} (absent)`);
      return;
    }
    if (flags & TypeFlags.Never) {
      out.push(`${path}: present, but typed never`);
      return;
    }
    if (flags & (TypeFlags.Object | TypeFlags.NonPrimitive)) {
      const element = elementOf(type);
      if (element) {
        if (!Array.isArray(value)) {
          out.push(`${path}: ${describe(value)} is not an array`);
          return;
        }
        value.forEach((item, i) => checkValue(item, element, `${path}[${i}]`, out));
        return;
      }
      return checkObject(value, type, path, out);
    }
    out.push(`${path}: the checker cannot read the type ${checker.typeToString(type)} (flags ${flags})`);
  }

  function checkObject(value: unknown, type: Type, path: string, out: string[]): void {
    const shape = shapeOf(type);
    if (shape.properties.size === 0 && shape.index === null) {
      // `{}` and `Record<never, never>` (the `OtherString` brand) accept any value but null/undefined.
      if (value === null || value === undefined) out.push(`${path}: ${describe(value)} where a value is required`);
      return;
    }
    if (!isPlainObject(value)) {
      out.push(`${path}: ${describe(value)} is not an object (${checker.typeToString(type)})`);
      return;
    }
    for (const [key, child] of Object.entries(value)) {
      const property = shape.properties.get(key);
      if (property) {
        if (child === undefined && !property.optional) out.push(`${path}.${key}: undefined, but required`);
        else if (child !== undefined) checkValue(child, typeOfProperty(property), `${path}.${key}`, out);
      } else if (shape.index) {
        checkValue(child, shape.index, `${path}.${key}`, out);
      } else {
        out.push(`${path}.${key}: not a field of ${checker.typeToString(type)} at this API version`);
      }
    }
    for (const property of shape.properties.values()) {
      if (!property.optional && !(property.name in value)) out.push(`${path}.${property.name}: missing (required by ${checker.typeToString(type)})`);
    }
  }

  function checkUnion(value: unknown, type: Type, path: string, out: string[]): void {
    const options = membersOf(type);
    // Events: the member whose `type` literal is the event's type.
    if (isPlainObject(value) && value.object === 'event' && typeof value.type === 'string' && options.length > 20) {
      const member = eventTypeFor(value.type);
      if (!member) {
        out.push(`${path}.type: ${JSON.stringify(value.type)} is not an event type of this SDK`);
        return;
      }
      return checkValue(value, member, path, out);
    }
    // A present value is never the `undefined` of an optional field, a non-null one never its `null`.
    let candidates: readonly Type[] = options.filter(
      (member) => !(value !== undefined && member.flags & (TypeFlags.Undefined | TypeFlags.Void)) && !(value !== null && member.flags & TypeFlags.Null),
    );
    if (candidates.length === 0) candidates = options;
    if (isPlainObject(value)) {
      candidates = candidates.filter((member) => member.flags & (TypeFlags.Object | TypeFlags.Intersection | TypeFlags.NonPrimitive) && elementOf(member) === null);
      if (typeof value.object === 'string') {
        const tagged = candidates.filter((member) => literalOf(member, 'object') === value.object);
        if (tagged.length > 0) candidates = tagged;
      }
    } else if (Array.isArray(value)) {
      candidates = candidates.filter((member) => elementOf(member) !== null);
    }
    if (candidates.length === 0) {
      out.push(`${path}: ${describe(value)} matches none of ${checker.typeToString(type)}`);
      return;
    }
    let best: string[] | null = null;
    for (const member of candidates) {
      const problems: string[] = [];
      checkValue(value, member, path, problems);
      if (problems.length === 0) return;
      if (best === null || problems.length < best.length) best = problems;
    }
    if (candidates.length > 1) out.push(`${path}: matches none of ${checker.typeToString(type)}; nearest:`);
    out.push(...best!);
  }

  return {
    objects: [...served.keys()],
    check(value, path = '$') {
      if (!isPlainObject(value) || typeof value.object !== 'string') return [`${path}: ${describe(value)} is not a Stripe object`];
      if (value.object === 'list' && Array.isArray(value.data)) return checkList(value, path);
      return this.checkAs(value.object, value, path);
    },
    checkAs(object, value, path = '$') {
      const type = served.get(object);
      if (!type) return [`${path}: no SDK type is registered for object ${JSON.stringify(object)} (add it to served-types.ts)`];
      const out: string[] = [];
      checkValue(value, type, path, out);
      return out;
    },
    stringLiterals(alias) {
      const type = declaredType(alias);
      return (type.flags & TypeFlags.Union ? membersOf(type) : [type])
        .filter((member) => member.flags & TypeFlags.StringLiteral)
        .map((member) => String((member as Type & { value: string }).value))
        .sort();
    },
    close() {
      snapshot.dispose();
      api.close();
    },
  };

  function checkList(list: Json, path: string): string[] {
    const out: string[] = [];
    for (const key of Object.keys(list)) {
      if (!['object', 'data', 'has_more', 'url'].includes(key)) out.push(`${path}.${key}: not a field of ApiList`);
    }
    if (typeof list.has_more !== 'boolean') out.push(`${path}.has_more: missing or not a boolean`);
    if (typeof list.url !== 'string') out.push(`${path}.url: missing or not a string`);
    (list.data as unknown[]).forEach((item, i) => {
      const itemPath = `${path}.data[${i}]`;
      if (!isPlainObject(item) || typeof item.object !== 'string') out.push(`${itemPath}: not a Stripe object`);
      else out.push(...(served.has(item.object) ? [] : [`${itemPath}: no SDK type for ${item.object}`]), ...(served.has(item.object) ? checkAsInner(item.object, item, itemPath) : []));
    });
    return out;
  }

  function checkAsInner(object: string, value: unknown, path: string): string[] {
    const out: string[] = [];
    checkValue(value, served.get(object)!, path, out);
    return out;
  }
}
