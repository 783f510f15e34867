import type { DuckDBType } from '@duckdb/node-api';
import { DuckDBTypeId } from '@duckdb/node-api';
import type { ArrowField, DatasetManifest } from '../manifests.js';

/** The schema block of a dataset manifest, from the DuckDB types of the rows written. */
export function datasetSchema(
  names: readonly string[],
  types: readonly DuckDBType[],
): DatasetManifest['schema'] {
  const columns = names.map((name, i) => ({ name, type: types[i]!.toString() }));
  const properties: Record<string, unknown> = {};
  const fields: ArrowField[] = [];
  names.forEach((name, i) => {
    const type = types[i]!;
    // _index_ is always set; every other column may hold nulls (CSV blanks, missing JSON keys).
    const nullable = name !== '_index_';
    const json = jsonSchemaOf(type);
    properties[name] = nullable ? { anyOf: [json, { type: 'null' }] } : json;
    fields.push({ name, type: arrowTypeOf(type), nullable });
  });
  return {
    columns,
    jsonSchema: { type: 'object', properties, required: names.filter((n) => n === '_index_') },
    arrowSchema: { fields },
  };
}

const ARROW_NAMES: Partial<Record<DuckDBTypeId, string>> = {
  [DuckDBTypeId.BOOLEAN]: 'bool',
  [DuckDBTypeId.TINYINT]: 'int8',
  [DuckDBTypeId.SMALLINT]: 'int16',
  [DuckDBTypeId.INTEGER]: 'int32',
  [DuckDBTypeId.BIGINT]: 'int64',
  [DuckDBTypeId.UTINYINT]: 'uint8',
  [DuckDBTypeId.USMALLINT]: 'uint16',
  [DuckDBTypeId.UINTEGER]: 'uint32',
  [DuckDBTypeId.UBIGINT]: 'uint64',
  [DuckDBTypeId.FLOAT]: 'float',
  [DuckDBTypeId.DOUBLE]: 'double',
  [DuckDBTypeId.VARCHAR]: 'string',
  [DuckDBTypeId.BLOB]: 'binary',
  [DuckDBTypeId.DATE]: 'date32[day]',
  [DuckDBTypeId.TIME]: 'time64[us]',
  [DuckDBTypeId.TIMESTAMP]: 'timestamp[us]',
  [DuckDBTypeId.TIMESTAMP_S]: 'timestamp[s]',
  [DuckDBTypeId.TIMESTAMP_MS]: 'timestamp[ms]',
  [DuckDBTypeId.TIMESTAMP_NS]: 'timestamp[ns]',
  [DuckDBTypeId.TIMESTAMP_TZ]: 'timestamp[us, tz=UTC]',
  [DuckDBTypeId.INTERVAL]: 'month_day_nano_interval',
  [DuckDBTypeId.UUID]: 'fixed_size_binary[16]',
  [DuckDBTypeId.ENUM]: 'dictionary<values=string, indices=uint32>',
};

/** Arrow type names as pyarrow prints them, which is how Dyff renders `arrowSchema`. */
export function arrowTypeOf(type: DuckDBType): string {
  switch (type.typeId) {
    case DuckDBTypeId.DECIMAL:
      return `decimal128(${type.width}, ${type.scale})`;
    case DuckDBTypeId.LIST:
      return `list<item: ${arrowTypeOf(type.valueType)}>`;
    case DuckDBTypeId.ARRAY:
      return `fixed_size_list<item: ${arrowTypeOf(type.valueType)}>[${type.length}]`;
    case DuckDBTypeId.STRUCT:
      return `struct<${type.entryNames.map((n, i) => `${n}: ${arrowTypeOf(type.entryTypes[i]!)}`).join(', ')}>`;
    case DuckDBTypeId.MAP:
      return `map<${arrowTypeOf(type.keyType)}, ${arrowTypeOf(type.valueType)}>`;
    default:
      return ARROW_NAMES[type.typeId] ?? type.toString().toLowerCase();
  }
}

const INTEGER_IDS = new Set<DuckDBTypeId>([
  DuckDBTypeId.TINYINT,
  DuckDBTypeId.SMALLINT,
  DuckDBTypeId.INTEGER,
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.UTINYINT,
  DuckDBTypeId.USMALLINT,
  DuckDBTypeId.UINTEGER,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UHUGEINT,
]);

export function jsonSchemaOf(type: DuckDBType): Record<string, unknown> {
  if (INTEGER_IDS.has(type.typeId)) return { type: 'integer' };
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return { type: 'boolean' };
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
    case DuckDBTypeId.DECIMAL:
      return { type: 'number' };
    case DuckDBTypeId.VARCHAR:
    case DuckDBTypeId.ENUM:
    case DuckDBTypeId.UUID:
      return { type: 'string' };
    case DuckDBTypeId.DATE:
      return { type: 'string', format: 'date' };
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
    case DuckDBTypeId.TIMESTAMP_TZ:
      return { type: 'string', format: 'date-time' };
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
      return { type: 'array', items: jsonSchemaOf(type.valueType) };
    case DuckDBTypeId.STRUCT:
      return {
        type: 'object',
        properties: Object.fromEntries(type.entryNames.map((n, i) => [n, jsonSchemaOf(type.entryTypes[i]!)])),
      };
    case DuckDBTypeId.MAP:
      return { type: 'object', additionalProperties: jsonSchemaOf(type.valueType) };
    default:
      return {};
  }
}
