// A form generated from a request's response_schema (JSON Schema 2020-12): strings, numbers, integers, booleans, enums,
// nested objects, arrays of strings, required members. What a form cannot express (oneOf, $ref, arrays of objects, …)
// gets a JSON editor of its own, and a schema that is not an object of properties gets one JSON editor for the whole
// answer. The server checks every answer against the schema; its errors (JSON pointers) are shown next to their field.

import { h, uid } from './dom.js';

const SIMPLE = new Set(['string', 'number', 'integer', 'boolean']);

/**
 * Builds the fields for `schema` into a container. Returns { element, read(), showErrors(errors) }: read() gives the value
 * or throws an Error naming the field it could not read; showErrors() puts [{pointer, message}] next to their fields and
 * returns the errors that belong to no field.
 */
export function schemaForm(schema, initial, legend) {
  const fields = new Map(); // JSON pointer → { input, error, read }
  const root = h('div', { class: 'schema-form' });
  let read;
  if (isObjectSchema(schema)) {
    const fieldset = h('fieldset', {}, h('legend', {}, legend));
    read = objectFields(fieldset, schema, initial ?? {}, '', fields);
    root.append(fieldset);
  } else {
    read = jsonField(root, legend, schema, initial ?? (schema && schema.type === 'object' ? {} : null), '', true, fields);
  }

  return {
    element: root,
    read() {
      for (const field of fields.values()) setError(field, null);
      return read();
    },
    showErrors(errors) {
      for (const field of fields.values()) setError(field, null);
      const unplaced = [];
      for (const error of errors) {
        const field = fieldFor(fields, error);
        if (field) setError(field, error.message);
        else unplaced.push(error);
      }
      const first = [...fields.values()].find((f) => f.input.getAttribute('aria-invalid') === 'true');
      first?.input.focus();
      return unplaced;
    },
  };
}

function isObjectSchema(schema) {
  return schema && typeof schema === 'object' && (schema.type === 'object' || (!schema.type && schema.properties))
    && schema.properties && typeof schema.properties === 'object'
    && !['oneOf', 'anyOf', 'allOf', '$ref', 'if', 'not'].some((k) => k in schema);
}

function objectFields(container, schema, value, pointer, fields) {
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const readers = [];
  for (const [name, property] of Object.entries(schema.properties)) {
    const path = `${pointer}/${escapePointer(name)}`;
    const label = (property && property.title) || name;
    const isRequired = required.has(name);
    const current = value?.[name];
    let reader;
    if (isObjectSchema(property)) {
      const fieldset = h('fieldset', {}, h('legend', {}, label, isRequired ? requiredMark() : null));
      container.append(fieldset);
      const inner = objectFields(fieldset, property, current ?? {}, path, fields);
      reader = () => inner();
    } else if (property && Array.isArray(property.enum) && property.enum.every((v) => ['string', 'number', 'boolean'].includes(typeof v))) {
      reader = enumField(container, label, property, current, isRequired, path, fields);
    } else if (property && SIMPLE.has(property.type) && !hasComposition(property)) {
      reader = simpleField(container, label, property, current, isRequired, path, fields);
    } else if (property && property.type === 'array' && property.items && property.items.type === 'string' && !hasComposition(property.items)) {
      reader = stringListField(container, label, property, current, isRequired, path, fields);
    } else {
      reader = jsonField(container, label, property, current, isRequired, path, fields);
    }
    readers.push([name, reader]);
  }
  return () => {
    const result = {};
    for (const [name, reader] of readers) {
      const v = reader();
      if (v !== undefined) result[name] = v;
    }
    return result;
  };
}

function hasComposition(schema) {
  return ['oneOf', 'anyOf', 'allOf', '$ref', 'if', 'not', 'const'].some((k) => k in schema);
}

function field(container, label, property, isRequired, pointer, fields, input, hint) {
  const id = uid('field');
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  input.id = id;
  input.dataset.pointer = pointer;
  const description = property?.description ? h('span', { class: 'hint', id: hintId }, property.description) : null;
  const extra = hint ? h('span', { class: 'hint' }, hint) : null;
  const error = h('span', { class: 'field-error', id: errorId, hidden: true });
  input.setAttribute('aria-describedby', [description ? hintId : null, errorId].filter(Boolean).join(' '));
  const wrapper = h('div', { class: 'field', dataset: { pointer } },
    h('label', { for: id }, label, isRequired ? requiredMark() : null, extra), description, input, error);
  if (input.type === 'checkbox') wrapper.classList.add('field-check');
  container.append(wrapper);
  const entry = { input, error, wrapper };
  fields.set(pointer, entry);
  return entry;
}

function requiredMark() {
  return h('span', { class: 'required', 'aria-hidden': 'true' }, ' *');
}

function simpleField(container, label, property, value, isRequired, pointer, fields) {
  let input;
  if (property.type === 'boolean') {
    input = h('input', { type: 'checkbox' });
    input.checked = value === true || (value === undefined && property.default === true);
    field(container, label, property, false, pointer, fields, input);
    return () => input.checked;
  }
  if (property.type === 'string') {
    const long = (property.maxLength ?? 0) > 200 || property.format === 'textarea';
    input = long ? h('textarea', { rows: '4' }) : h('input', { type: property.format === 'email' ? 'email' : 'text', autocomplete: 'off' });
    if (property.maxLength !== undefined) input.maxLength = property.maxLength;
  } else {
    input = h('input', { type: 'number', step: property.type === 'integer' ? '1' : 'any', inputmode: property.type === 'integer' ? 'numeric' : 'decimal' });
    if (property.minimum !== undefined) input.min = String(property.minimum);
    if (property.maximum !== undefined) input.max = String(property.maximum);
  }
  input.required = isRequired;
  const initial = value ?? property.default;
  if (initial !== undefined && initial !== null) input.value = String(initial);
  const entry = field(container, label, property, isRequired, pointer, fields, input);
  return () => {
    const text = input.value;
    if (property.type === 'string') return text === '' && !isRequired ? undefined : text;
    if (text.trim() === '') {
      if (isRequired) throw invalid(entry, 'Enter a number.');
      return undefined;
    }
    const number = Number(text);
    if (!Number.isFinite(number) || (property.type === 'integer' && !Number.isInteger(number))) {
      throw invalid(entry, property.type === 'integer' ? 'Enter a whole number.' : 'Enter a number.');
    }
    return number;
  };
}

function enumField(container, label, property, value, isRequired, pointer, fields) {
  const select = h('select', {});
  select.required = isRequired;
  if (!isRequired || value === undefined) select.append(h('option', { value: '' }, isRequired ? 'Choose…' : '(none)'));
  property.enum.forEach((option, i) => {
    const element = h('option', { value: String(i) }, String(option));
    if (option === (value ?? property.default)) element.selected = true;
    select.append(element);
  });
  field(container, label, property, isRequired, pointer, fields, select);
  return () => (select.value === '' ? undefined : property.enum[Number(select.value)]);
}

function stringListField(container, label, property, value, isRequired, pointer, fields) {
  const input = h('textarea', { rows: '3' });
  input.required = isRequired && (property.minItems ?? 0) > 0;
  if (Array.isArray(value)) input.value = value.join('\n');
  field(container, label, property, isRequired, pointer, fields, input, ' (one per line)');
  return () => {
    const items = input.value.split('\n').map((s) => s.trim()).filter((s) => s !== '');
    return items.length === 0 && !isRequired ? undefined : items;
  };
}

function jsonField(container, label, property, value, isRequired, pointer, fields) {
  const input = h('textarea', { rows: '6', class: 'code', spellcheck: 'false' });
  input.required = isRequired;
  if (value !== undefined) input.value = JSON.stringify(value, null, 2);
  const entry = field(container, label, property, isRequired, pointer, fields, input, ' (JSON)');
  return () => {
    const text = input.value.trim();
    if (text === '') {
      if (isRequired) throw invalid(entry, 'Enter a JSON value.');
      return undefined;
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw invalid(entry, `This is not valid JSON: ${error.message}`);
    }
  };
}

function invalid(entry, message) {
  setError(entry, message);
  entry.input.focus();
  return new Error(message);
}

function setError(entry, message) {
  entry.error.textContent = message ?? '';
  entry.error.hidden = !message;
  entry.wrapper.classList.toggle('invalid', Boolean(message));
  if (message) entry.input.setAttribute('aria-invalid', 'true');
  else entry.input.removeAttribute('aria-invalid');
}

/**
 * The field of an error: the field at its pointer or the nearest one above it ("/tags/2" → "/tags"). An error about missing
 * required members is reported at the object that lacks them; it goes to the named member's field when there is one.
 */
function fieldFor(fields, error) {
  const pointer = typeof error.pointer === 'string' ? error.pointer : '';
  const missing = /required/i.test(error.message ?? '') ? [...(error.message.matchAll(/"([^"]+)"/g))].map((m) => m[1]) : [];
  for (const name of missing) {
    const field = fields.get(`${pointer}/${escapePointer(name)}`);
    if (field) return field;
  }
  let candidate = pointer;
  for (;;) {
    if (fields.has(candidate)) return fields.get(candidate);
    if (candidate === '') return null;
    candidate = candidate.slice(0, candidate.lastIndexOf('/'));
  }
}

function escapePointer(name) {
  return name.replaceAll('~', '~0').replaceAll('/', '~1');
}
